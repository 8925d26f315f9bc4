"""The ClipCap mapping network: an MLP from a target-space vector to `prefix_length` GPT-2 input embeddings."""

import torch


class PrefixMapper(torch.nn.Module):
    """Linear(q, h) -> tanh -> Linear(h, k * e), reshaped to (n, k, e), as ClipCap's MLP mapping network.

    Args:
        target_dim: q, the length of input vectors.
        hidden_dim: h (ClipCap uses k * e // 2).
        prefix_length: k, GPT-2 input embeddings produced per vector.
        embedding_dim: e, GPT-2's n_embd.
    """

    def __init__(self, target_dim: int, hidden_dim: int, prefix_length: int, embedding_dim: int):
        super().__init__()
        self.prefix_length = prefix_length
        self.embedding_dim = embedding_dim
        self.model = torch.nn.Sequential(
            torch.nn.Linear(target_dim, hidden_dim),
            torch.nn.Tanh(),
            torch.nn.Linear(hidden_dim, prefix_length * embedding_dim),
        )

    def forward(self, vectors: torch.Tensor) -> torch.Tensor:
        """Map (n, q) vectors to (n, k, e) prefix embeddings."""
        return self.model(vectors).view(-1, self.prefix_length, self.embedding_dim)
