"""Deployable diffusion / flow-matching policies with receding-horizon execution.

:class:`GenerativePolicy` has the same surface as :class:`diffil.policy.Policy` (``predict``,
``save``, ``load`` through ``Policy.load``, ``export_onnx``, ``export_torchscript``) plus the
state that action chunking needs:

- ``policy(obs)`` / :meth:`act` executes chunks: it keeps the last H_o observations, samples
  a chunk of H_a actions when its queue is empty and returns the first ``exec_horizon`` of them
  one per call. Call :meth:`reset` at every episode start (diffil's rollouts do).
- :meth:`predict` is stateless: the first action of a chunk sampled for the observation alone
  (its history filled with copies of it).

Exports map ``obs_history`` (N, H_o, obs_dim) and the initial noise ``noise`` (N, H_a, A) to an
action chunk (N, H_a, A). ONNX export needs a deterministic sampler (ddim with eta 0, euler,
midpoint); TorchScript also takes ddpm and langevin, which draw their further noise inside.
"""

from __future__ import annotations

import collections
import copy
import inspect
import warnings
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from diffil.errors import DiffilError
from diffil.generative.model import ActionChunkModel

FILE_FORMAT, FILE_VERSION = "diffil.policy", 1


class ChunkSampler(nn.Module):
    """``(obs_history, noise) -> action chunk``: the module that is exported."""

    def __init__(self, model: ActionChunkModel):
        super().__init__()
        self.model = model

    def forward(self, obs_history: Tensor, noise: Tensor) -> Tensor:
        return self.model.sample(obs_history, noise)


class GenerativePolicy:
    """A trained action-chunk policy (diffusion, flow or chunk regression), ready to act."""

    # act takes (N, obs_dim) of N episodes started together: lockstep evaluation
    acts_on_batches = True

    def __init__(
        self, model: ActionChunkModel, metadata: dict[str, Any] | None = None, seed: int = 0
    ):
        self.model = model.eval().requires_grad_(False)
        self._metadata = dict(metadata or {})
        self.seed = seed
        self.generator = torch.Generator().manual_seed(seed)
        self._history: collections.deque[np.ndarray] = collections.deque(
            maxlen=model.config.obs_horizon
        )
        self._queue: collections.deque[np.ndarray] = collections.deque()

    # -- description ----------------------------------------------------------------------------

    @property
    def obs_dim(self) -> int:
        return self.model.obs_dim

    @property
    def act_dim(self) -> int:
        return self.model.act_dim

    @property
    def kind(self) -> str:
        """ "diffusion", "flow" or "regression"."""
        return self.model.objective

    @property
    def metadata(self) -> dict[str, Any]:
        return copy.deepcopy(self._metadata)

    def __repr__(self) -> str:
        cfg = self.model.config
        return (
            f"GenerativePolicy(kind={self.kind!r}, obs_dim={self.obs_dim}, act_dim="
            f"{self.act_dim}, network={cfg.network!r}, sampler={cfg.sampler!r}, "
            f"sample_steps={cfg.sample_steps}, H_o={cfg.obs_horizon}, H_a={cfg.action_horizon})"
        )

    def with_sampler(self, sampler: str, sample_steps: int | None = None) -> GenerativePolicy:
        """The same weights sampled another way (``ddpm``, ``ddim``, ``langevin``; flow:
        ``euler``, ``midpoint``)."""
        model = self.model.with_sampler(sampler, sample_steps)
        return GenerativePolicy(model, self._metadata, self.seed)

    # -- acting ---------------------------------------------------------------------------------

    def _check(self, obs: Any) -> np.ndarray:
        array = np.asarray(obs)
        if (
            array.dtype.kind not in "biuf"
            or array.ndim not in (1, 2)
            or (array.shape[-1] != self.obs_dim)
        ):
            raise DiffilError(
                f"observation has shape {array.shape}",
                f"pass a float array of shape ({self.obs_dim},) or (N, {self.obs_dim})",
            )
        return array.astype(np.float32)

    def sample_chunk(self, obs_history: Any) -> np.ndarray:
        """Action chunks (N, H_a, A) for raw observation histories (N, H_o, obs_dim)."""
        history = torch.as_tensor(np.asarray(obs_history, dtype=np.float32))
        with torch.no_grad():
            return self.model.sample(history, generator=self.generator).numpy()

    def predict(self, obs: Any) -> np.ndarray:
        """Stateless: first action of a chunk sampled for ``obs`` alone; (obs_dim,) or (N, ...)."""
        array = self._check(obs)
        batch = array.reshape(-1, 1, self.obs_dim)
        history = np.repeat(batch, self.model.config.obs_horizon, axis=1)
        actions = self.sample_chunk(history)[:, 0]
        return actions[0] if array.ndim == 1 else actions

    def reset(self, seed: int | None = None) -> None:
        """Forget the observation history and queued actions (call at every episode start)."""
        self._history.clear()
        self._queue.clear()
        if seed is not None:
            self.generator.manual_seed(seed)

    def act(self, obs: Any) -> np.ndarray:
        """Receding horizon: plan H_a actions when the queue is empty, execute exec_horizon."""
        array = self._check(obs)
        if not self._history:  # pad the start of an episode with the first observation
            self._history.extend([array] * self._history.maxlen)
        else:
            self._history.append(array)
        if not self._queue:
            history = np.stack(self._history, axis=-2).reshape(-1, len(self._history), self.obs_dim)
            chunk = self.sample_chunk(history)
            for i in range(self.model.config.exec_horizon):
                self._queue.append(chunk[:, i] if array.ndim == 2 else chunk[0, i])
        return self._queue.popleft()

    def __call__(self, obs: Any) -> np.ndarray:
        return self.act(obs)

    # -- files ----------------------------------------------------------------------------------

    def save(self, path: str | PathLike) -> Path:
        """One file, loadable with ``diffil.Policy.load`` (``torch.load(weights_only=True)``)."""
        from diffil.utils.files import write_atomically

        path = Path(path)
        payload = {
            "format": FILE_FORMAT,
            "version": FILE_VERSION,
            "architecture": self.model.spec,
            "state_dict": {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()},
            "metadata": copy.deepcopy(self._metadata),
        }
        write_atomically(path, lambda tmp: torch.save(payload, tmp))
        return path

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> GenerativePolicy:
        """Rebuild from a loaded policy file (called by ``Policy.load``)."""
        model = ActionChunkModel.from_spec(payload["architecture"])
        model.load_state_dict(payload["state_dict"], strict=True)
        return cls(model, payload.get("metadata"))

    def _export_example(self) -> tuple[Tensor, Tensor]:
        cfg = self.model.config
        obs = self.model.obs_mean.expand(2, cfg.obs_horizon, self.obs_dim).contiguous()
        noise = torch.zeros(2, *self.model.chunk_shape)
        return obs, noise

    def export_onnx(self, path: str | PathLike, opset: int = 17) -> Path:
        """ONNX graph (obs_history, noise) -> actions; needs a deterministic sampler."""
        from diffil.utils.files import write_atomically

        if not self.model.deterministic_sampler:
            raise DiffilError(
                f"the {self.model.config.sampler} sampler draws noise at every step, which ONNX "
                "export cannot reproduce",
                "export with a ddim (eta 0), euler or midpoint sampler, or as torchscript",
            )
        path = Path(path)
        module = ChunkSampler(copy.deepcopy(self.model))
        kwargs: dict[str, Any] = {}
        if "dynamo" in inspect.signature(torch.onnx.export).parameters:
            kwargs["dynamo"] = False

        def write(tmp: Path) -> None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    module,
                    self._export_example(),
                    str(tmp),
                    input_names=["obs_history", "noise"],
                    output_names=["actions"],
                    dynamic_axes={
                        "obs_history": {0: "batch"},
                        "noise": {0: "batch"},
                        "actions": {0: "batch"},
                    },
                    opset_version=int(opset),
                    **kwargs,
                )

        write_atomically(path, write)
        return path

    def export_torchscript(self, path: str | PathLike) -> Path:
        """Traced module (obs_history, noise) -> actions (any sampler)."""
        from diffil.utils.files import write_atomically

        path = Path(path)
        module = ChunkSampler(copy.deepcopy(self.model))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            traced = torch.jit.trace(module, self._export_example(), check_trace=False)
        write_atomically(path, lambda tmp: traced.save(str(tmp)))
        return path
