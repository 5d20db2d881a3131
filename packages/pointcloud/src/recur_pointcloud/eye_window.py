"""3DCNN-DQN-RNN's eye window (Liu et al., ICCV 2017, https://arxiv.org/abs/1707.06783) as a gymnasium
environment over one room, and the DQN (Mnih et al. 2015) that learns to move it onto a class's points.

The paper's actions, reward and episode rules are not published in code; recur's choices:

- **State**: the window ``(cx, cy, cz, sx, sy, sz)`` in the room's ``[0, 1]`` coordinates
  (:func:`~recur_pointcloud.models.dqn_rnn.normalise_room`) and the target class. An episode starts from
  the whole room (or, with ``random_start``, a random window, as the DQN trains).
- **Observation**: ``{"voxels": the 3D CNN's input for the window [VOXEL_CHANNELS, G, G, G], "window": [6],
  "target": class}``.
- **Actions** (``WINDOW_ACTIONS``): move the centre by ``move`` times the window's size along +x, -x, +y,
  -y, +z or -z; grow or shrink every side by ``scale``; stop. Sizes stay in ``[min_size, 1]`` and the window
  inside the room (the centre is clamped).
- **Reward**: the change of the window's point IoU with the target class, ``IoU = |W ∩ C| / |W ∪ C|`` over
  the room's points (W: the points in the window, C: the class's points), so an episode's undiscounted
  return is the final IoU minus the first; stop ends the episode (reward 0), and ``max_steps`` truncates it.

The DQN: experience replay (uniform, a ring buffer of transitions), a target network copied from the
Q-network every ``target_sync`` updates, ε-greedy exploration with ε decaying linearly from
``epsilon_start`` to ``epsilon_end`` over ``epsilon_decay_steps`` environment steps, and the Huber loss of
the one-step TD error on minibatches:

.. math::

    L = \\operatorname{Huber}\\big(Q(s, a) - (r + \\gamma (1 - d) \\max_{a'} Q_{\\text{target}}(s', a'))\\big),
    \\quad d = 1 \\text{ after stop}

The Q-network (:class:`~recur_pointcloud.models.dqn_rnn.EyeWindowQNetwork`) reads the window's 3D-CNN
evidence (``encode``: the parser's CNN, frozen while the DQN learns), so the replay holds evidence vectors,
not voxel grids.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from recur_pointcloud.models.dqn_rnn import (
    NUM_ACTIONS,
    VOXEL_CHANNELS,
    WHOLE_ROOM,
    WINDOW_ACTIONS,
    EyeWindowQNetwork,
    normalise_room,
    voxelize_windows,
    window_offsets,
)

__all__ = [
    "STOP",
    "DQNAgent",
    "DQNConfig",
    "EyeWindowEnv",
    "ReplayBuffer",
    "apply_window_actions",
    "rollout_returns",
    "search_windows",
    "window_iou",
]

STOP = WINDOW_ACTIONS.index("stop")


def apply_window_actions(
    windows: Tensor, actions: Tensor, move: float = 0.2, scale: float = 1.25, min_size: float = 0.1
) -> Tensor:
    """Windows ``[B, 6]`` after actions ``[B]`` (indices into ``WINDOW_ACTIONS``), kept inside the room."""
    centre, size = windows[:, :3].clone(), windows[:, 3:].clone()
    rows = torch.arange(len(actions))
    moving = actions < 6
    axis, sign = (actions // 2).clamp(max=2), 1.0 - 2.0 * (actions % 2)
    centre[rows[moving], axis[moving]] += (sign * move * size[rows, axis])[moving]
    factor = torch.where(actions == 6, scale, torch.where(actions == 7, 1 / scale, 1.0)).to(size.dtype)
    size = (size * factor[:, None]).clamp(min_size, 1.0)
    centre = torch.minimum(torch.maximum(centre, size / 2), 1 - size / 2)
    return torch.cat([centre, size], 1)


def window_iou(room_xyz: Tensor, windows: Tensor, class_mask: Tensor) -> Tensor:
    """Point IoU ``[B]`` of windows ``[B, 6]`` with the point sets ``class_mask [B, N]`` (room xyz ``[N, 3]``)."""
    inside = window_offsets(room_xyz, windows)[1]
    intersection = (inside & class_mask).sum(1)
    union = (inside | class_mask).sum(1)
    return intersection / union.clamp_min(1)


class EyeWindowEnv(gym.Env):
    """The eye window over one room (the module docstring gives the state, actions and reward).

    Args:
        points: the room ``[N, 6]`` (x y z in metres, r g b in 0..255).
        labels: class of each point ``[N]``.
        num_classes: classes a target may be.
        grid: voxels per window axis.
        max_steps: steps before an episode is truncated.
        move, scale, min_size: see :func:`apply_window_actions`.
        target_class: the class every episode searches for; None draws one of the room's classes per episode
            (``reset(options={"target_class": k})`` sets it for one episode).
        random_start: start from a random window (sides uniform in ``[0.25, 1]``) instead of the whole room.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(
        self,
        points: Tensor,
        labels: Tensor,
        num_classes: int = 13,
        grid: int = 16,
        max_steps: int = 20,
        move: float = 0.2,
        scale: float = 1.25,
        min_size: float = 0.1,
        target_class: int | None = None,
        random_start: bool = False,
    ) -> None:
        if labels.shape != points.shape[:1]:
            raise ValueError(f"labels {tuple(labels.shape)} do not match points {tuple(points.shape)}")
        if max_steps < 1 or not 0 < min_size <= 1 or scale <= 1 or move <= 0:
            raise ValueError(
                f"need max_steps >= 1, 0 < min_size <= 1, scale > 1 and move > 0; got {max_steps}, {min_size}, "
                f"{scale}, {move}"
            )
        self.room = normalise_room(points)
        self.labels = labels.long()
        self.present = np.unique(self.labels.numpy())
        if target_class is not None and not 0 <= target_class < num_classes:
            raise ValueError(f"target_class must be in [0, {num_classes}), got {target_class}")
        self.num_classes, self.grid, self.max_steps = num_classes, grid, max_steps
        self.move, self.scale, self.min_size = move, scale, min_size
        self.target_class, self.random_start = target_class, random_start
        self.action_space = gym.spaces.Discrete(NUM_ACTIONS)
        self.observation_space = gym.spaces.Dict(
            {
                "voxels": gym.spaces.Box(0.0, 1.0, (VOXEL_CHANNELS, grid, grid, grid), np.float32),
                "window": gym.spaces.Box(0.0, 1.0, (6,), np.float32),
                "target": gym.spaces.Discrete(num_classes),
            }
        )

    def _observation(self) -> dict[str, Any]:
        voxels = voxelize_windows(self.room, self.window[None], self.grid).voxels[0]
        return {
            "voxels": voxels.numpy().astype(np.float32),
            "window": self.window.numpy().astype(np.float32),
            "target": np.int64(self.target),
        }

    def _iou(self) -> float:
        return float(window_iou(self.room[:, :3], self.window[None], self.mask[None])[0])

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        super().reset(seed=seed)
        options = options or {}
        target = options.get("target_class", self.target_class)
        self.target = int(self.np_random.choice(self.present)) if target is None else int(target)
        if "window" in options:
            window = torch.as_tensor(options["window"], dtype=torch.float32)
        elif self.random_start:
            size = torch.as_tensor(self.np_random.uniform(0.25, 1.0, 3), dtype=torch.float32)
            centre = size / 2 + torch.as_tensor(self.np_random.uniform(0, 1, 3), dtype=torch.float32) * (1 - size)
            window = torch.cat([centre, size])
        else:
            window = torch.tensor(WHOLE_ROOM)
        self.window = apply_window_actions(window[None], torch.tensor([STOP]), min_size=self.min_size)[0]
        self.mask = self.labels == self.target
        self.iou, self.steps = self._iou(), 0
        return self._observation(), {"iou": self.iou}

    def step(self, action: int) -> tuple[dict, float, bool, bool, dict]:
        if not self.action_space.contains(action):
            raise ValueError(f"action must be in 0..{NUM_ACTIONS - 1} ({', '.join(WINDOW_ACTIONS)}), got {action!r}")
        self.window = apply_window_actions(
            self.window[None], torch.tensor([int(action)]), self.move, self.scale, self.min_size
        )[0]
        iou = self._iou()
        reward, self.iou = iou - self.iou, iou
        self.steps += 1
        terminated = int(action) == STOP
        truncated = not terminated and self.steps >= self.max_steps
        return self._observation(), float(reward), terminated, truncated, {"iou": iou}


# ----- the DQN ---------------------------------------------------------------------------------------------------


@dataclass
class DQNConfig:
    gamma: float = 0.9  # discount
    buffer_size: int = 10_000  # transitions kept in the replay
    batch_size: int = 64  # transitions per update
    target_sync: int = 100  # updates between copies of the Q-network into the target network
    epsilon_start: float = 1.0
    epsilon_end: float = 0.05
    epsilon_decay_steps: int = 2_000  # environment steps of the linear decay
    learning_starts: int = 200  # environment steps before the first update


class ReplayBuffer:
    """A ring buffer of transitions ``(evidence, window, target, action, reward, next evidence, next window,
    terminated)``, sampled uniformly."""

    def __init__(self, capacity: int, evidence_dim: int) -> None:
        self.capacity, self.size, self.position = capacity, 0, 0
        self.evidence = torch.zeros(capacity, evidence_dim)
        self.next_evidence = torch.zeros(capacity, evidence_dim)
        self.window = torch.zeros(capacity, 6)
        self.next_window = torch.zeros(capacity, 6)
        self.target = torch.zeros(capacity, dtype=torch.long)
        self.action = torch.zeros(capacity, dtype=torch.long)
        self.reward = torch.zeros(capacity)
        self.terminated = torch.zeros(capacity)

    def add(self, **transition: Any) -> None:
        for name, value in transition.items():
            getattr(self, name)[self.position] = torch.as_tensor(value)
        self.position = (self.position + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int, generator: torch.Generator) -> dict[str, Tensor]:
        rows = torch.randint(0, self.size, (batch_size,), generator=generator)
        names = ("evidence", "next_evidence", "window", "next_window", "target", "action", "reward", "terminated")
        return {name: getattr(self, name)[rows] for name in names}


class DQNAgent:
    """The DQN of the eye window: a Q-network, its target copy, a replay, ε-greedy acting and batched updates.

    Args:
        q_network: the network trained (:class:`EyeWindowQNetwork`).
        encode: voxels ``[B, VOXEL_CHANNELS, G, G, G]`` -> evidence ``[B, evidence_dim]`` (the frozen CNN's
            :meth:`~recur_pointcloud.models.dqn_rnn.Window3DCNN.evidence`); called without gradients.
        config: :class:`DQNConfig`.
        optimizer: steps the Q-network (default: Adam, lr 1e-3).
        seed: seeds exploration and replay sampling.
    """

    def __init__(
        self,
        q_network: EyeWindowQNetwork,
        encode: Callable[[Tensor], Tensor],
        config: DQNConfig | None = None,
        optimizer: torch.optim.Optimizer | None = None,
        seed: int = 0,
    ) -> None:
        self.config = config or DQNConfig()
        self.q_network = q_network
        self.target_network = copy.deepcopy(q_network).requires_grad_(False)
        self.encode = encode
        self.optimizer = optimizer or torch.optim.Adam(q_network.parameters(), lr=1e-3)
        self.replay = ReplayBuffer(self.config.buffer_size, q_network.evidence_dim)
        self.rng = np.random.default_rng(seed)
        self.generator = torch.Generator().manual_seed(seed)
        self.env_steps = self.updates = 0

    def epsilon(self) -> float:
        """ε after ``env_steps`` steps: linear from ``epsilon_start`` to ``epsilon_end``."""
        c = self.config
        done = min(1.0, self.env_steps / max(1, c.epsilon_decay_steps))
        return c.epsilon_start + done * (c.epsilon_end - c.epsilon_start)

    @torch.no_grad()
    def evidence(self, observation: dict[str, Any]) -> Tensor:
        return self.encode(torch.as_tensor(observation["voxels"])[None])[0]

    @torch.no_grad()
    def greedy_action(self, evidence: Tensor, observation: dict[str, Any]) -> int:
        window = torch.as_tensor(observation["window"])[None]
        target = torch.as_tensor(observation["target"]).reshape(1)
        return int(self.q_network(evidence[None], window, target).argmax(1)[0])

    def td_loss(self, batch: dict[str, Tensor]) -> Tensor:
        """The Huber loss of the one-step TD error on a replay minibatch."""
        q = self.q_network(batch["evidence"], batch["window"], batch["target"])
        q_taken = q.gather(1, batch["action"][:, None])[:, 0]
        with torch.no_grad():
            following = self.target_network(batch["next_evidence"], batch["next_window"], batch["target"])
            bootstrap = batch["reward"] + self.config.gamma * (1 - batch["terminated"]) * following.max(1).values
        return F.smooth_l1_loss(q_taken, bootstrap)

    def update(self) -> float:
        """One minibatch update (and a target sync every ``target_sync`` updates); returns the loss."""
        loss = self.td_loss(self.replay.sample(self.config.batch_size, self.generator))
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.updates += 1
        if self.updates % self.config.target_sync == 0:
            self.target_network.load_state_dict(self.q_network.state_dict())
        return float(loss.detach())

    def run(self, env: EyeWindowEnv, steps: int, seed: int | None = None) -> list[float]:
        """Act ε-greedily in ``env`` for ``steps`` steps, storing every transition and updating after each
        step once ``learning_starts`` steps were taken; returns the undiscounted returns of the episodes ended."""
        observation, _ = env.reset(seed=seed)
        evidence, returns, episode_return = self.evidence(observation), [], 0.0
        for _ in range(steps):
            if self.rng.random() < self.epsilon():
                action = int(self.rng.integers(NUM_ACTIONS))
            else:
                action = self.greedy_action(evidence, observation)
            following, reward, terminated, truncated, _ = env.step(action)
            next_evidence = self.evidence(following)
            self.replay.add(
                evidence=evidence,
                window=observation["window"],
                target=observation["target"],
                action=action,
                reward=reward,
                next_evidence=next_evidence,
                next_window=following["window"],
                terminated=float(terminated),
            )
            self.env_steps += 1
            episode_return += reward
            observation, evidence = following, next_evidence
            if terminated or truncated:
                returns.append(episode_return)
                observation, _ = env.reset()
                evidence, episode_return = self.evidence(observation), 0.0
            if self.env_steps >= self.config.learning_starts:
                self.update()
        return returns


def rollout_returns(
    env: EyeWindowEnv, policy: Callable[[dict[str, Any]], int], episodes: int, seed: int = 0
) -> list[float]:
    """Undiscounted returns of ``episodes`` episodes of ``policy`` (observation -> action), reset with seeds
    ``seed, seed + 1, ...``."""
    returns = []
    for episode in range(episodes):
        observation, _ = env.reset(seed=seed + episode)
        total, done = 0.0, False
        while not done:
            observation, reward, terminated, truncated, _ = env.step(policy(observation))
            total += reward
            done = terminated or truncated
        returns.append(total)
    return returns


@torch.no_grad()
def search_windows(
    room: Tensor,
    targets: Tensor,
    encode: Callable[[Tensor], Tensor],
    q_network: EyeWindowQNetwork,
    grid: int = 16,
    max_steps: int = 20,
    move: float = 0.2,
    scale: float = 1.25,
    min_size: float = 0.1,
) -> Tensor:
    """The greedy eye-window searches for several classes of one room at once (the paper's class-wise windows).

    Every search starts from the whole room and takes the Q-network's best action until it stops or
    ``max_steps`` pass, exactly as :class:`EyeWindowEnv` steps one window; the searches run as one batch.

    Shapes:
        room ``[N, 6]`` normalised (:func:`~recur_pointcloud.models.dqn_rnn.normalise_room`), targets ``[K]``
        -> windows ``[K, 6]``.
    """
    windows = torch.tensor(WHOLE_ROOM).repeat(len(targets), 1)
    active = torch.ones(len(targets), dtype=torch.bool)
    for _ in range(max_steps):
        if not active.any():
            break
        evidence = encode(voxelize_windows(room, windows[active], grid).voxels)
        actions = q_network(evidence, windows[active], targets[active]).argmax(1)
        windows[active] = apply_window_actions(windows[active], actions, move, scale, min_size)
        active[active.clone()] = actions != STOP
    return windows
