"""Entity-level evaluation: pure scoring (`scorer`, `bootstrap`, `analysis`) that needs no model,
the model-running part (`runner`), and the views of the results (`report`, `plots`, `compare`)."""
