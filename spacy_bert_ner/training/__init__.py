"""What runs before and during `spacy train`: the checks (`train`, `corpus_checks`), the behaviours
the configs name (`hooks`), cutting examples to the window (`chunks`), and the encoder (`encoders`,
`vocab_trim`). Nothing is imported here: a packaged model loads without any of it."""
