# Wording of messages: counts with their nouns, singular for one.

# "1 row", "3 rows"; `plural` for nouns that do not just take an s.
count_of <- function(n, noun, plural = paste0(noun, "s")) {
  sprintf("%s %s", format(n), if (identical(as.numeric(n), 1)) noun else plural)
}
