"""The chat page (`rag serve` or `python -m ui`): Gradio wiring over `rag.app.chat`.

Importing this package loads nothing heavy; `ui.app` imports Gradio.
"""
