"""Running a trained pipeline: loading it (`loading`), batching and long texts (`batching`,
`long_texts`), the wheel (`packaging`), and `predict` in small pieces (`predict`, `inputs`,
`resume`, `signals`, `output`, `engine`, `ray_engine`). Nothing is imported here, so a module
brings in only what it uses."""
