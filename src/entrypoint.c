// R looks for R_init_femtograd; the Rust static library provides the
// extendr registration under another name. Calling it from here also keeps
// the linker from discarding the static library.
void R_init_femtograd_extendr(void *dll);

void R_init_femtograd(void *dll) {
    R_init_femtograd_extendr(dll);
}
