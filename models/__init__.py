"""Text normalisation, sentiment and topic models, training and the model registry."""
