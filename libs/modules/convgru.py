"""Convolutional GRU cell of NER (``convgru_forward``, ``convgru_backward``).

Gates are 3x3 convs with bias on concat(x, h):
``r = sigmoid(reset_gate([x, h]))``, ``z = sigmoid(update_gate([x, h]))``,
``c = tanh(output_gate([x, r * h]))``, ``h' = (1 - z) * c + z * h``.
"""
import torch
from torch import nn

__all__ = ["ConvGRUCell"]


class ConvGRUCell(nn.Module):
    """``x (B, C_in, h, w), hidden (B, C_h, h, w) -> (B, C_h, h, w)``."""

    def __init__(self, input_size=256, hidden_size=256, kernel_size=3):
        super().__init__()
        padding = kernel_size // 2
        channels = input_size + hidden_size
        self.reset_gate = nn.Conv2d(channels, hidden_size, kernel_size, padding=padding)
        self.update_gate = nn.Conv2d(channels, hidden_size, kernel_size, padding=padding)
        self.output_gate = nn.Conv2d(channels, hidden_size, kernel_size, padding=padding)
        # PyTorch's default initialisation, as published: the published cell meant to set
        # Kaiming-normal weights and zero biases, but its loop iterated over state-dict
        # *names* (strings, never Conv2d), so no initialiser ever ran.

    def forward(self, x, hidden):
        stacked = torch.cat((x, hidden), dim=1)
        reset = torch.sigmoid(self.reset_gate(stacked))
        update = torch.sigmoid(self.update_gate(stacked))
        candidate = torch.tanh(self.output_gate(torch.cat((x, reset * hidden), dim=1)))
        return (1 - update) * candidate + update * hidden
