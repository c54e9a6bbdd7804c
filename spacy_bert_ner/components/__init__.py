"""Pipeline components that `spacy.load` needs at run time.

Nothing is imported here: each component registers its factory (and its registered
functions) when spaCy resolves the name through the `spacy_factories` / `spacy_misc`
entry points in setup.cfg, so loading a pipeline imports only what it uses.
"""
