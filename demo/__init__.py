"""The end-to-end demo behind ``make run``: a scripted spoken conversation through the pipeline."""
