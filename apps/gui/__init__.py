"""The Gradio app (`workbench app`): chat, self-play, training jobs and verbal feedback in a browser."""
