"""The HTTP service (`spacy-bert-ner serve`): a trained pipeline behind FastAPI, on one machine
(uvicorn) or as a Ray Serve deployment. It sits above inference, whose code path it runs: the
entities it answers are the ones `predict` writes for the same texts."""
