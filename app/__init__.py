"""The Gradio writer: layout, event wiring, view models and the service that composes
the engine and storage per user action."""
