"""Scoring: embedding, structural features, the classifier head and the Scorer that joins them."""
