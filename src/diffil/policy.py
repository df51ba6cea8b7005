"""Deployable policies: a state goes in, an action comes out.

A :class:`Policy` is the trained actor of an imitation-learning run (the policy of FIG. 4 of the
DRAIL patent) packaged for use outside diffil's training code: the observation normalisation that
was applied during training, the actor network and the post-processing of its output (clipping to
the action bounds, or tanh squashing and rescaling), with deterministic actions.

The network is described by a plain dict (layer sizes, activation names, kind, flags) and a state
dict of tensors, so a saved policy loads with ``torch.load(weights_only=True)`` and needs neither
Stable-Baselines3 nor pickle. Policies can be exported to ONNX and TorchScript with
:func:`export_policy`.
"""

from __future__ import annotations

import copy
import inspect
import json
import warnings
from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from diffil.errors import DiffilError, reading
from diffil.utils.files import write_atomically

__all__ = ["EXPORT_FORMATS", "Policy", "PolicyNetwork", "export_policy"]

FILE_FORMAT = "diffil.policy"
FILE_VERSION = 1
EXPORT_FORMATS = ("diffil", "onnx", "torchscript")
KINDS = ("ppo", "sac", "td3")  # td3: the same tanh-squashed form as sac
GENERATIVE_KINDS = ("diffusion", "flow", "regression")  # diffil.generative.GenerativePolicy

# Activation name -> (module class, constructor arguments that are stored with it).
_ACTIVATIONS: dict[str, tuple[type[nn.Module], tuple[str, ...]]] = {
    "tanh": (nn.Tanh, ()),
    "relu": (nn.ReLU, ()),
    "elu": (nn.ELU, ("alpha",)),
    "leaky_relu": (nn.LeakyReLU, ("negative_slope",)),
    "gelu": (nn.GELU, ("approximate",)),
    "silu": (nn.SiLU, ()),
    "sigmoid": (nn.Sigmoid, ()),
    "softplus": (nn.Softplus, ("beta", "threshold")),
    "hardtanh": (nn.Hardtanh, ("min_val", "max_val")),
}


def _one_line(text: object, limit: int = 120) -> str:
    """The first line of ``text``, shortened to ``limit`` characters."""
    lines = str(text).strip().splitlines()
    line = lines[0].strip() if lines else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _spec_error(what: str) -> DiffilError:
    return DiffilError(f"invalid policy description: {what}", "re-export the policy with diffil")


def _positive_int(spec: Mapping[str, Any], key: str) -> int:
    value = spec.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise _spec_error(f"{key!r} must be a positive integer, got {value!r}")
    return value


def _number(spec: Mapping[str, Any], key: str) -> float:
    value = spec.get(key)
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise _spec_error(f"{key!r} must be a number, got {value!r}")
    return float(value)


def _build_layers(spec: Mapping[str, Any], obs_dim: int, act_dim: int) -> list[nn.Module]:
    """The modules described by ``spec["layers"]``, checked to map obs_dim to act_dim."""
    layers = spec.get("layers")
    if not isinstance(layers, list) or not layers:
        raise _spec_error("'layers' must be a non-empty list")
    modules: list[nn.Module] = []
    width = obs_dim
    for i, layer in enumerate(layers):
        if not isinstance(layer, Mapping):
            raise _spec_error(f"layer {i} is not a dict")
        if layer.get("type") == "linear":
            n_in = _positive_int(layer, "in_features")
            n_out = _positive_int(layer, "out_features")
            bias = layer.get("bias", True)
            if n_in != width or not isinstance(bias, bool):
                raise _spec_error(f"linear layer {i} takes {n_in} inputs, expected {width}")
            modules.append(nn.Linear(n_in, n_out, bias=bias))
            width = n_out
        elif layer.get("type") == "activation":
            name = layer.get("name")
            args = layer.get("args", {})
            if name not in _ACTIVATIONS:
                raise _spec_error(f"unknown activation {name!r} in layer {i}")
            cls, allowed = _ACTIVATIONS[name]
            if not isinstance(args, Mapping) or not set(args) <= set(allowed):
                raise _spec_error(f"bad arguments {args!r} for activation {name!r}")
            try:
                modules.append(cls(**args))
            except (TypeError, ValueError) as exc:
                raise _spec_error(f"bad arguments for activation {name!r}: {exc}") from exc
        else:
            raise _spec_error(f"layer {i} has unknown type {layer.get('type')!r}")
    if width != act_dim:
        raise _spec_error(f"the network has {width} outputs, expected act_dim={act_dim}")
    return modules


class PolicyNetwork(nn.Module):
    """Self-contained actor: normalisation, MLP and action post-processing, in one module.

    ``forward`` maps a float batch of raw observations ``(N, obs_dim)`` to float32 actions
    ``(N, act_dim)``. Normalisation runs in float64, exactly as Stable-Baselines3's
    ``VecNormalize`` computes it, before the network runs in float32.
    """

    def __init__(self, spec: Mapping[str, Any]):
        super().__init__()
        if not isinstance(spec, Mapping):
            raise _spec_error("not a dict")
        kind = spec.get("kind")
        if kind not in KINDS:
            raise _spec_error(f"'kind' must be one of {', '.join(KINDS)}, got {kind!r}")
        obs_dim = _positive_int(spec, "obs_dim")
        act_dim = _positive_int(spec, "act_dim")
        squash, normalize = spec.get("squash"), spec.get("normalize")
        if not isinstance(squash, bool) or not isinstance(normalize, bool):
            raise _spec_error("'squash' and 'normalize' must be true or false")
        clip_obs, epsilon = _number(spec, "clip_obs"), _number(spec, "epsilon")
        if not clip_obs > 0 or not epsilon >= 0:
            raise _spec_error(f"need clip_obs > 0 and epsilon >= 0, got {clip_obs}, {epsilon}")

        self.spec: dict[str, Any] = json.loads(json.dumps(dict(spec)))
        self.kind: str = kind
        self.obs_dim, self.act_dim = obs_dim, act_dim
        self.squash, self.normalize = squash, normalize
        self.clip_obs, self.epsilon = clip_obs, epsilon
        self.net = nn.Sequential(*_build_layers(spec, obs_dim, act_dim))
        self.register_buffer("action_low", torch.full((act_dim,), -1.0, dtype=torch.float32))
        self.register_buffer("action_high", torch.full((act_dim,), 1.0, dtype=torch.float32))
        if normalize:
            self.register_buffer("obs_mean", torch.zeros(obs_dim, dtype=torch.float64))
            self.register_buffer("obs_var", torch.ones(obs_dim, dtype=torch.float64))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Actions (float32) for a batch of raw observations."""
        if self.normalize:
            x = (obs.to(torch.float64) - self.obs_mean) / torch.sqrt(self.obs_var + self.epsilon)
            x = torch.clamp(x, -self.clip_obs, self.clip_obs)
        else:
            x = obs
        action = self.net(x.to(torch.float32))
        if self.squash:
            action = torch.tanh(action)
            return self.action_low + 0.5 * (action + 1.0) * (self.action_high - self.action_low)
        return torch.minimum(torch.maximum(action, self.action_low), self.action_high)

    def extra_repr(self) -> str:
        return (
            f"kind={self.kind!r}, obs_dim={self.obs_dim}, act_dim={self.act_dim}, "
            f"normalize={self.normalize}, squash={self.squash}"
        )


def describe_modules(modules: list[nn.Module], where: str) -> list[dict[str, Any]]:
    """The plain-dict description of a chain of SB3 modules (Linear layers and activations)."""
    flat: list[nn.Module] = []

    def expand(module: nn.Module) -> None:
        if isinstance(module, nn.Sequential):
            for child in module:
                expand(child)
        elif not isinstance(module, nn.Identity):
            flat.append(module)

    for module in modules:
        expand(module)
    layers: list[dict[str, Any]] = []
    for module in flat:
        if type(module) is nn.Linear:
            layers.append(
                {
                    "type": "linear",
                    "in_features": module.in_features,
                    "out_features": module.out_features,
                    "bias": module.bias is not None,
                }
            )
            continue
        for name, (cls, arg_names) in _ACTIVATIONS.items():
            if type(module) is cls:
                args = {arg: getattr(module, arg) for arg in arg_names}
                layers.append({"type": "activation", "name": name, "args": args})
                break
        else:
            raise DiffilError(
                f"cannot export the layer {type(module).__name__} of the {where}",
                "only MLP policies (Linear layers and standard activations) can be exported",
            )
    return layers


def _check_box(space: Any, what: str) -> int:
    from gymnasium import spaces

    if not isinstance(space, spaces.Box) or len(space.shape) != 1:
        raise DiffilError(
            f"the model's {what} space is {space}, not a flat Box",
            "only models with vector observations and continuous actions can be exported",
        )
    return int(space.shape[0])


def _check_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise DiffilError(
            f"policy metadata must be a dict, got {type(metadata).__name__}", "pass a dict"
        )
    try:
        return json.loads(json.dumps(dict(metadata), allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise DiffilError(
            f"policy metadata is not JSON-serialisable ({_one_line(exc)})",
            "use only strings, numbers, booleans, None, lists and dicts",
        ) from exc


class Policy:
    """A trained policy: observation normalisation + the actor network, deterministic actions."""

    acts_on_batches = True  # predict takes (N, obs_dim): lockstep evaluation on N environments

    def __init__(self, network: PolicyNetwork, metadata: Mapping[str, Any] | None = None):
        self._network = network.eval().requires_grad_(False)
        self._metadata = _check_metadata(metadata)

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def from_sb3(
        cls,
        model: Any,
        obs_rms: Any = None,
        clip_obs: float = 10.0,
        epsilon: float = 1e-8,
        metadata: Mapping[str, Any] | None = None,
    ) -> Policy:
        """The deterministic policy of a Stable-Baselines3 PPO/A2C (MlpPolicy) or SAC model.

        ``obs_rms`` is the ``VecNormalize.obs_rms`` the model was trained with (or None); pass
        the same ``clip_obs`` and ``epsilon`` as that ``VecNormalize``.
        """
        from stable_baselines3.common.distributions import (
            DiagGaussianDistribution,
            StateDependentNoiseDistribution,
        )
        from stable_baselines3.common.policies import ActorCriticPolicy
        from stable_baselines3.common.torch_layers import FlattenExtractor
        from stable_baselines3.sac.policies import SACPolicy

        sb3_policy = getattr(model, "policy", model)
        name = type(model).__name__
        if isinstance(sb3_policy, ActorCriticPolicy):
            kind, extractor = "ppo", sb3_policy.pi_features_extractor
            dist = sb3_policy.action_dist
            if isinstance(dist, StateDependentNoiseDistribution):
                squash = bool(sb3_policy.squash_output)
            elif isinstance(dist, DiagGaussianDistribution):
                squash = False
            else:
                raise DiffilError(
                    f"{name} has a {type(dist).__name__} action distribution",
                    "only continuous (Box) action spaces can be exported",
                )
            modules = [sb3_policy.mlp_extractor.policy_net, sb3_policy.action_net]
        elif isinstance(sb3_policy, SACPolicy):
            kind, extractor, squash = "sac", sb3_policy.actor.features_extractor, True
            modules = [sb3_policy.actor.latent_pi, sb3_policy.actor.mu]
        else:
            raise DiffilError(
                f"cannot export a {name} model",
                "pass a Stable-Baselines3 PPO, A2C or SAC model with MlpPolicy",
            )
        if not isinstance(extractor, FlattenExtractor):
            raise DiffilError(
                f"{name} uses the features extractor {type(extractor).__name__}",
                "only MlpPolicy models (FlattenExtractor) can be exported",
            )
        obs_dim = _check_box(sb3_policy.observation_space, "observation")
        act_dim = _check_box(sb3_policy.action_space, "action")
        spec = {
            "kind": kind,
            "obs_dim": obs_dim,
            "act_dim": act_dim,
            "layers": describe_modules(modules, f"{name} actor"),
            "squash": squash,
            "normalize": obs_rms is not None,
            "clip_obs": float(clip_obs),
            "epsilon": float(epsilon),
        }
        network = PolicyNetwork(spec)
        sources = [sub for m in modules for sub in m.modules() if type(sub) is nn.Linear]
        targets = [m for m in network.net if isinstance(m, nn.Linear)]
        with torch.no_grad():
            for target, source in zip(targets, sources, strict=True):
                target.weight.copy_(source.weight.detach().cpu())
                if target.bias is not None:
                    target.bias.copy_(source.bias.detach().cpu())
            space = sb3_policy.action_space
            network.action_low.copy_(torch.as_tensor(space.low, dtype=torch.float32))
            network.action_high.copy_(torch.as_tensor(space.high, dtype=torch.float32))
            if obs_rms is not None:
                mean, var = cls._check_obs_rms(obs_rms, obs_dim)
                network.obs_mean.copy_(torch.from_numpy(mean))
                network.obs_var.copy_(torch.from_numpy(var))
        return cls(network, metadata)

    @staticmethod
    def _check_obs_rms(obs_rms: Any, obs_dim: int) -> tuple[np.ndarray, np.ndarray]:
        if hasattr(obs_rms, "obs_rms") and hasattr(obs_rms, "clip_obs"):
            raise DiffilError(
                "obs_rms is a VecNormalize, not its running statistics",
                "pass obs_rms=vecnorm.obs_rms, clip_obs=vecnorm.clip_obs, epsilon=vecnorm.epsilon",
            )
        try:
            mean = np.asarray(obs_rms.mean, dtype=np.float64).reshape(-1)
            var = np.asarray(obs_rms.var, dtype=np.float64).reshape(-1)
        except (AttributeError, TypeError, ValueError) as exc:
            raise DiffilError(
                f"obs_rms has no numeric mean/var ({type(obs_rms).__name__})",
                "pass VecNormalize.obs_rms (a RunningMeanStd) or None",
            ) from exc
        if mean.shape != (obs_dim,) or var.shape != (obs_dim,):
            raise DiffilError(
                f"obs_rms has {mean.size} dims, the model observes {obs_dim}",
                "pass the statistics of the VecNormalize the model was trained with",
            )
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(var)) and np.all(var >= 0)):
            raise DiffilError(
                "obs_rms has non-finite means or negative variances",
                "pass the statistics of the VecNormalize the model was trained with",
            )
        return mean, var

    # -- inference ------------------------------------------------------------------------------

    @property
    def obs_dim(self) -> int:
        """Length of an observation vector."""
        return self._network.obs_dim

    @property
    def act_dim(self) -> int:
        """Length of an action vector."""
        return self._network.act_dim

    @property
    def kind(self) -> str:
        """The kind of actor: "ppo" (Gaussian mean, clipped), "sac" or "td3" (tanh-squashed)."""
        return self._network.kind

    @property
    def metadata(self) -> dict[str, Any]:
        """A copy of the JSON-able metadata stored with the policy."""
        return copy.deepcopy(self._metadata)

    def with_metadata(self, **extra: Any) -> Policy:
        """The same network with ``extra`` added to (or replacing keys of) its metadata."""
        return type(self)(self._network, {**self._metadata, **extra})

    def predict(self, obs: Any) -> np.ndarray:
        """Deterministic float32 actions: ``(obs_dim,) -> (act_dim,)`` or ``(N, obs_dim) -> (N,
        act_dim)``."""
        array = np.asarray(obs)
        if array.dtype.kind not in "biuf" or array.ndim not in (1, 2):
            raise DiffilError(
                f"observation has shape {array.shape} and dtype {array.dtype}",
                f"pass a float array of shape ({self.obs_dim},) or (N, {self.obs_dim})",
            )
        if array.shape[-1] != self.obs_dim:
            raise DiffilError(
                f"observation has {array.shape[-1]} values, the policy expects {self.obs_dim}",
                f"pass an array of shape ({self.obs_dim},) or (N, {self.obs_dim})",
            )
        dtype = np.float32 if array.dtype in (np.float16, np.float32) else np.float64
        batch = torch.from_numpy(np.ascontiguousarray(array, dtype=dtype).reshape(-1, self.obs_dim))
        with torch.no_grad():
            actions = self._network(batch).numpy().astype(np.float32, copy=False)
        return actions[0] if array.ndim == 1 else actions

    def __call__(self, obs: Any) -> np.ndarray:
        """Same as :meth:`predict`."""
        return self.predict(obs)

    def as_module(self) -> PolicyNetwork:
        """A copy of the policy as a plain ``nn.Module``: float batch (N, obs_dim) -> actions."""
        return copy.deepcopy(self._network)

    def __repr__(self) -> str:
        return (
            f"Policy(kind={self.kind!r}, obs_dim={self.obs_dim}, act_dim={self.act_dim}, "
            f"normalize={self._network.normalize})"
        )

    # -- files ----------------------------------------------------------------------------------

    def save(self, path: str | PathLike) -> Path:
        """Write the policy to one file (loadable with ``torch.load(weights_only=True)``)."""
        path = Path(path)
        state = self._network.state_dict()
        payload = {
            "format": FILE_FORMAT,
            "version": FILE_VERSION,
            "architecture": copy.deepcopy(self._network.spec),
            "state_dict": {key: value.detach().cpu().clone() for key, value in state.items()},
            "metadata": copy.deepcopy(self._metadata),
        }
        write_atomically(path, lambda tmp: torch.save(payload, tmp))
        return path

    @classmethod
    def load(cls, path: str | PathLike) -> Policy:
        """Read a policy written by :meth:`save`; a bad file raises :class:`DiffilError`.

        Files of diffusion / flow-matching policies load as
        :class:`diffil.generative.GenerativePolicy` (same ``predict``, ``save`` and exports).
        """
        path = Path(path)
        fix = 'pass a file written by Policy.save or export_policy(..., "diffil")'
        if not path.exists():
            raise DiffilError("no such policy file", fix, where=path)
        if not path.is_file():
            raise DiffilError("not a file", fix, where=path)
        with reading(path, "policy file", fix):
            try:
                payload = torch.load(path, map_location="cpu", weights_only=True)
            except Exception as exc:
                raise DiffilError(
                    "not a readable policy file: corrupt, truncated or holding pickled objects "
                    f"({type(exc).__name__})",
                    fix,
                ) from exc
            return cls._from_payload(payload, fix)

    @classmethod
    def _from_payload(cls, payload: Any, fix: str) -> Policy:
        """The policy in a loaded file's payload; :class:`DiffilError` if it is not one."""
        if not isinstance(payload, dict) or payload.get("format") != FILE_FORMAT:
            raise DiffilError("not a diffil policy file", fix)
        version = payload.get("version")
        if not isinstance(version, int) or version > FILE_VERSION:
            raise DiffilError(
                f"policy file version {version!r} is not supported (this diffil reads up to "
                f"{FILE_VERSION})",
                "upgrade diffil or re-export the policy",
            )
        state = payload.get("state_dict")
        if not isinstance(state, dict) or not all(
            isinstance(v, torch.Tensor) for v in state.values()
        ):
            raise DiffilError("the policy file has no weights", fix)
        architecture = payload.get("architecture")
        if isinstance(architecture, dict) and architecture.get("kind") in GENERATIVE_KINDS:
            from diffil.generative.policy import GenerativePolicy

            try:
                return GenerativePolicy.from_payload(payload)  # type: ignore[return-value]
            except (KeyError, TypeError, ValueError, RuntimeError) as exc:
                raise DiffilError(
                    f"the generative policy in the file is inconsistent ({_one_line(exc, 80)})",
                    fix,
                ) from exc
        network = PolicyNetwork(architecture)
        try:
            network.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise DiffilError("the weights do not match the policy description", fix) from exc
        return cls(network, payload.get("metadata"))

    def export_onnx(self, path: str | PathLike, opset: int = 17) -> Path:
        """Write an ONNX model with input ``obs`` and output ``action`` (dynamic batch axis)."""
        path = Path(path)
        module = self.as_module()
        example = torch.zeros(2, self.obs_dim, dtype=torch.float32)
        kwargs: dict[str, Any] = {}
        if "dynamo" in inspect.signature(torch.onnx.export).parameters:
            kwargs["dynamo"] = False  # the TorchScript-based exporter needs no onnxscript

        def write(tmp: Path) -> None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                warnings.simplefilter("ignore", FutureWarning)
                torch.onnx.export(
                    module,
                    (example,),
                    str(tmp),
                    input_names=["obs"],
                    output_names=["action"],
                    dynamic_axes={"obs": {0: "batch"}, "action": {0: "batch"}},
                    opset_version=int(opset),
                    **kwargs,
                )

        try:
            write_atomically(path, write)
        except (ImportError, ModuleNotFoundError) as exc:
            raise DiffilError(
                f"ONNX export is unavailable ({_one_line(exc, 80)})",
                "install the export extras: pip install 'diffil[export]'",
                where=path,
            ) from exc
        return path

    def export_torchscript(self, path: str | PathLike) -> Path:
        """Write a TorchScript (traced) module mapping an observation batch to actions."""
        path = Path(path)
        module = self.as_module()
        example = torch.zeros(2, self.obs_dim, dtype=torch.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            traced = torch.jit.trace(module, (example,))
        write_atomically(path, lambda tmp: traced.save(str(tmp)))
        return path


def export_policy(policy: Policy, out: str | PathLike, fmt: str) -> Path:
    """Write ``policy`` to ``out`` as "onnx", "torchscript" or "diffil" (Policy.save's format)."""
    key = str(fmt).strip().lower()
    if key == "onnx":
        return policy.export_onnx(out)
    if key == "torchscript":
        return policy.export_torchscript(out)
    if key == "diffil":
        return policy.save(out)
    raise DiffilError(f"unknown export format {fmt!r}", f"use one of: {', '.join(EXPORT_FORMATS)}")
