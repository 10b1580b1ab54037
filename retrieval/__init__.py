"""Inference over vectors: the packaged encoder, intent classifier, FAISS index."""
