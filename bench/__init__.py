"""verbatim's benchmark harness: ingestion, search at scale, cold start, re-indexing, and the
same corpus through LlamaIndex. Run it with `.venv/bin/python -m bench` (see bench/README.md).
"""
