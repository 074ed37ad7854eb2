"""Image retrieval: exact top-K neighbours and Recall@K on embeddings (the zero-shot evaluation)."""

from assembled_cnn.retrieval.recall import Blocks, recall_at_k, top_k_neighbors

__all__ = ["Blocks", "recall_at_k", "top_k_neighbors"]
