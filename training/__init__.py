"""Fine-tune a Russian BERT to label news paragraphs with the event they report."""
