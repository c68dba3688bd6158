"""Training: fit and evaluate the classifier head with folds grouped by package."""
