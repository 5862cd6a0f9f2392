"""Time-step mixup in a plain torch training loop, on synthetic data (runs in seconds on a CPU).

Each sample is a pair: a static image repeated over T steps (appearance) and an event recording of the same
class, both batch-first (B, T, C, H, W) as tonic and SpikingJelly hold them. Class k lights up the k-th
quarter of the frame. Every step the mixer replaces the image frames from a random switch step on with the event
frames, at an expected event share r_m that rises over training (tmkt.ratio_schedule).
"""

import torch
from torch import nn

import tmkt

T, B, C, H, W, CLASSES, STEPS = 4, 32, 2, 8, 8, 4, 60
torch.manual_seed(0)


def synthetic_batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    labels = torch.randint(CLASSES, (B,))
    mask = torch.zeros(B, 1, 1, H, W)
    for i, k in enumerate(labels.tolist()):
        mask[i, ..., (k // 2) * H // 2:(k // 2 + 1) * H // 2, (k % 2) * W // 2:(k % 2 + 1) * W // 2] = 1.0
    images = (mask + 0.1 * torch.randn(B, 1, C, H, W)).expand(B, T, C, H, W)  # a still image, every step
    events = (torch.rand(B, T, C, H, W) < 0.1 + 0.5 * mask).float()  # sparse spikes, denser where the class is
    return images, events, labels


class TinySNN(nn.Module):
    """Linear -> multi-step LIF -> linear readout, per step; time-first inside."""

    def __init__(self) -> None:
        super().__init__()
        self.fc, self.out = nn.Linear(C * H * W, 64), nn.Linear(64, CLASSES)
        self.lif = tmkt.MultiStepLIF.from_kwargs(tau_mem=2.0, v_th=0.5)  # v += (I - v) / tau_mem, spike above v_th

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, T, C, H, W) -> logits (T, B, K)
        return self.out(self.lif(self.fc(x.transpose(0, 1).flatten(2))))


model, mixup = TinySNN(), tmkt.TimestepMixup(time_steps=T, layout="BT")
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
for step in range(STEPS):
    images, events, labels = synthetic_batch()
    mixed = mixup(images, events, r_m=tmkt.ratio_schedule("power", step / (STEPS - 1)))
    logits_mixed, logits_event = model(mixed.frames), model(events)
    loss = sum(tmkt.tet_loss(logits, labels, lam=0.001, phi=0.5) for logits in (logits_mixed, logits_event))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 10 == 0 or step == STEPS - 1:
        accuracy = (tmkt.predict(logits_event) == labels).float().mean().item()
        print(f"step {step:3d}  event share {mixed.ratio.mean().item():.2f}  loss {loss.item():.4f}  "
              f"event accuracy {accuracy:.2f}")
