"""From the engine's 52 ARKit channels to one model's morph-target weights.

Three sources, in this order of precedence:

1. ``[expressions]`` in ``avatar.toml``: ``jawOpen = "MouthOpen"`` or ``jawOpen = {aa = 0.8}``;
   names are morph targets or VRM expressions. A channel named there loses its automatic mapping.
2. Morph targets named after an ARKit channel drive it directly. Names are compared without case,
   separators or common exporter prefixes (``blendShape1.``, ``BS_``, ``ARKit_``), and ``_L``/``_R``
   suffixes read as ``Left``/``Right``, so ``blendShape1.EyeBlink_L`` drives ``eyeBlinkLeft``.
3. VRM expressions (``aa``, ``blink``, ``happy``...) are driven from ARKit channels by
   ``DEFAULT_VRM_SOURCES`` unless one of those channels already drives a morph directly, so models
   with both "perfect sync" shapes and presets are not driven twice.

Per frame this is two small matrix products plus VRM 1.0's ``isBinary`` and ``override*`` rules on
a vector of a dozen expressions: no Python loop over channels or targets.
"""

from __future__ import annotations

import json
import re

import numpy as np

from engine.avatar.gltf import Model
from engine.errors import ConfigError
from engine.types import BLENDSHAPE_INDEX, BLENDSHAPE_NAMES, NUM_BLENDSHAPES

# VRM expression ← weighted ARKit channels. Left/right in VRM look presets are the avatar's own.
DEFAULT_VRM_SOURCES: dict[str, dict[str, float]] = {
    "aa": {"jawOpen": 1.0},
    "ih": {"mouthLowerDownLeft": 0.5, "mouthLowerDownRight": 0.5},
    "ou": {"mouthPucker": 1.0},
    "ee": {"mouthStretchLeft": 0.5, "mouthStretchRight": 0.5},
    "oh": {"mouthFunnel": 1.0},
    "blink": {"eyeBlinkLeft": 0.5, "eyeBlinkRight": 0.5},
    "blinkLeft": {"eyeBlinkLeft": 1.0},
    "blinkRight": {"eyeBlinkRight": 1.0},
    # VRoid-made models (most VRMs) draw "happy" (Joy) as a big smile with the eyes closed to
    # arcs, often open-mouthed (Godette's is an "oh"), and "relaxed" (Fun) as a closed smile: so
    # the mouth corners drive "relaxed" and the raised cheeks of a broad smile drive "happy".
    "happy": {"cheekSquintLeft": 0.5, "cheekSquintRight": 0.5},
    "angry": {"browDownLeft": 0.5, "browDownRight": 0.5},
    "sad": {"mouthFrownLeft": 0.5, "mouthFrownRight": 0.5},
    "relaxed": {"mouthSmileLeft": 0.5, "mouthSmileRight": 0.5},
    "surprised": {"browInnerUp": 0.5, "eyeWideLeft": 0.25, "eyeWideRight": 0.25},
    "lookUp": {"eyeLookUpLeft": 0.5, "eyeLookUpRight": 0.5},
    "lookDown": {"eyeLookDownLeft": 0.5, "eyeLookDownRight": 0.5},
    "lookLeft": {"eyeLookOutLeft": 0.5, "eyeLookInRight": 0.5},
    "lookRight": {"eyeLookInLeft": 0.5, "eyeLookOutRight": 0.5},
}
BLINK_GROUP = ("blink", "blinkLeft", "blinkRight")
LOOK_GROUP = ("lookUp", "lookDown", "lookLeft", "lookRight")
MOUTH_GROUP = ("aa", "ih", "ou", "ee", "oh")

_PREFIXES = ("arkit", "blendshape", "bs", "shape", "face", "morph", "key")


def normalise(name: str) -> str:
    """A morph or channel name reduced for tolerant matching (see the module docstring)."""
    name = name.rsplit(".", 1)[-1] if re.match(r"^[A-Za-z]+\d*\.", name) else name
    name = re.sub(r"[_.\-\s]([LR])$", lambda m: "Left" if m.group(1) == "L" else "Right", name)
    name = re.sub(r"[_.\-\s]([lr])$", lambda m: "Left" if m.group(1) == "l" else "Right", name)
    key = re.sub(r"[^a-z0-9]", "", name.lower())
    for prefix in _PREFIXES:
        rest = key[len(prefix):]
        if key.startswith(prefix) and rest in _CHANNEL_KEYS:
            return rest
    return key


_CHANNEL_KEYS = {re.sub(r"[^a-z0-9]", "", n.lower()): n for n in BLENDSHAPE_NAMES}


class ExpressionMap:
    """Turns a (52,) ARKit vector into the weights of every morph target of a model."""

    def __init__(self, model: Model, overrides: dict | None = None) -> None:
        self.targets = model.target_names  # [(instance, target, name)], the global target order
        self.offsets = np.cumsum([0] + [len(i.target_names) for i in model.instances])
        self.expression_names = list(model.expressions)
        g, p = len(self.targets), len(self.expression_names)
        self.direct = np.zeros((g, NUM_BLENDSHAPES), np.float32)  # morph ← channel
        self.binds = np.zeros((g, p), np.float32)  # morph ← expression
        self.sources = np.zeros((p, NUM_BLENDSHAPES), np.float32)  # expression ← channel
        self._textured = np.array([bool(model.expressions[n].texture_binds)
                                   for n in self.expression_names], np.float32)
        self._binary = np.array([model.expressions[n].is_binary for n in self.expression_names], bool)
        self._overrides = self._override_rules(model)
        for e, name in enumerate(self.expression_names):
            for bind in model.expressions[name].binds:
                self.binds[self.offsets[bind.instance] + bind.target, e] += bind.weight

        by_key: dict[str, list[int]] = {}
        for index, (_, _, name) in enumerate(self.targets):
            by_key.setdefault(normalise(name), []).append(index)
        for key, channel in _CHANNEL_KEYS.items():
            for index in by_key.get(key, []):
                self.direct[index, BLENDSHAPE_INDEX[channel]] = 1.0

        directly_driven = self.direct.any(axis=0)
        has = set(self.expression_names)
        for e, name in enumerate(self.expression_names):
            sources = DEFAULT_VRM_SOURCES.get(name)
            if not sources or (name == "blink" and {"blinkLeft", "blinkRight"} <= has):
                continue  # per-eye blinks drive the eyes; driving "blink" too would double them
            if any(directly_driven[BLENDSHAPE_INDEX[c]] for c in sources):
                continue
            for channel, weight in sources.items():
                self.sources[e, BLENDSHAPE_INDEX[channel]] = weight

        for channel, spec in (overrides or {}).items():
            self._apply_override(channel, spec, by_key)

    def _override_rules(self, model: Model) -> list[tuple[int, str, np.ndarray]]:
        """(overriding expression, mode, mask of expressions it overrides) per VRM 1.0 rule."""
        names = self.expression_names
        rules = []
        for e, name in enumerate(names):
            expression = model.expressions[name]
            for mode, group in ((expression.override_blink, BLINK_GROUP),
                                (expression.override_look_at, LOOK_GROUP),
                                (expression.override_mouth, MOUTH_GROUP)):
                if mode in ("block", "blend"):
                    rules.append((e, mode, np.array([n in group for n in names], bool)))
        return rules

    def _apply_override(self, channel: str, spec, by_key: dict[str, list[int]]) -> None:
        if channel not in BLENDSHAPE_INDEX:
            raise ConfigError(f"avatar.toml [expressions]: {channel!r} is not an ARKit channel")
        k = BLENDSHAPE_INDEX[channel]
        if isinstance(spec, str):
            spec = {spec: 1.0}
        if not isinstance(spec, dict):
            raise ConfigError(f"avatar.toml [expressions].{channel}: expected a name or "
                              "{name = weight} table")
        self.direct[:, k] = 0.0
        self.sources[:, k] = 0.0
        for name, weight in spec.items():
            if not isinstance(weight, (int, float)):
                raise ConfigError(f"avatar.toml [expressions].{channel}.{name}: weight must be a number")
            if name in self.expression_names:
                self.sources[self.expression_names.index(name), k] += float(weight)
                continue
            exact = [i for i, (_, _, n) in enumerate(self.targets) if n == name]
            matches = exact or by_key.get(normalise(name), [])
            if not matches:
                raise ConfigError(f"avatar.toml [expressions].{channel}: the model has no morph "
                                  f"target or expression named {name!r}")
            self.direct[matches, k] += float(weight)

    @property
    def target_count(self) -> int:
        return len(self.targets)

    def expression_weights(self, blendshapes: np.ndarray) -> np.ndarray:
        """(P,) VRM expression values after isBinary and override rules."""
        values = np.clip(self.sources @ blendshapes, 0.0, 1.0)
        values = np.where(self._binary, (values > 0.5).astype(np.float32), values)
        factor = np.ones_like(values)
        for e, mode, mask in self._overrides:
            w = values[e]
            if w > 0.0:
                factor[mask] = np.minimum(factor[mask], 0.0 if mode == "block" else 1.0 - w)
        # A binary expression that receives any override is suppressed completely (VRM 1.0 spec).
        factor = np.where(self._binary & (factor < 1.0), 0.0, factor)
        return values * factor

    def weights(self, blendshapes: np.ndarray) -> np.ndarray:
        """(targets,) morph weights in [0, 1] for a (52,) ARKit vector."""
        weights = self.direct @ blendshapes
        if self.binds.shape[1]:
            weights += self.binds @ self.expression_weights(blendshapes)
        return np.clip(weights, 0.0, 1.0)

    def channel_targets(self) -> dict[str, list[str]]:
        """Each ARKit channel → the morph targets it moves (directly or through expressions)."""
        effective = self.direct + self.binds @ self.sources
        result = {}
        for k, channel in enumerate(BLENDSHAPE_NAMES):
            moved = [self.targets[g][2] for g in np.flatnonzero(effective[:, k])]
            # Expressions that move textures (VRM texture-transform binds) count as driven too.
            moved += [f"{self.expression_names[e]} (texture)"
                      for e in np.flatnonzero(self.sources[:, k] * self._textured)]
            result[channel] = moved
        return result

    def undriven_channels(self) -> list[str]:
        """ARKit channels that move nothing on this model."""
        return [c for c, targets in self.channel_targets().items() if not targets]


# -- explaining a mapping to the artist (``persona avatar inspect``) -------------------------------

def _weight(value: float) -> str:
    return f"{value:.3g}"


def channel_routes(mapping: ExpressionMap) -> dict[str, list[str]]:
    """Each ARKit channel → how it moves the model, with weights: ``"ah 1"`` for a morph target
    it drives directly, ``"relaxed 0.5 (VRM) → uu 0.25, look_up 0.125"`` through a VRM
    expression (the morph weights are what a channel at 1 gives). Empty: drives nothing."""
    routes: dict[str, list[str]] = {}
    for k, channel in enumerate(BLENDSHAPE_NAMES):
        moved = [f"{mapping.targets[g][2]} {_weight(mapping.direct[g, k])}"
                 for g in np.flatnonzero(mapping.direct[:, k])]
        for e in np.flatnonzero(mapping.sources[:, k]):
            weight = mapping.sources[e, k]
            binds = [f"{mapping.targets[g][2]} {_weight(weight * mapping.binds[g, e])}"
                     for g in np.flatnonzero(mapping.binds[:, e])]
            if mapping._textured[e]:
                binds.append("texture transform")
            name = mapping.expression_names[e]
            moved.append(f"{name} {_weight(weight)} (VRM) → " + (", ".join(binds) or "nothing"))
        routes[channel] = moved
    return routes


def mapping_table(mapping: ExpressionMap) -> list[str]:
    """The channel → target/expression table, one line per ARKit channel."""
    width = max(map(len, BLENDSHAPE_NAMES))
    lines = ["channel map (ARKit channel at 1 → morph target or VRM expression, weight):"]
    for channel, routes in channel_routes(mapping).items():
        lines.append(f"  {channel:<{width}}  " + ("; ".join(routes) if routes
                                                  else "- drives nothing"))
    return lines


# Words in morph-target names → the ARKit channels they most likely are. Short words must be the
# whole name ("a", "oh"); longer ones may be a part of it ("MouthSmile", "eyes_closed").
_NAME_HINTS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("smile", "joy", "happy", "grin", "fun"), ("mouthSmileLeft", "mouthSmileRight")),
    (("blink", "eyeclose", "eyesclose", "eyesclosed", "wink"), ("eyeBlinkLeft", "eyeBlinkRight")),
    (("a", "aa", "ah", "open", "mouthopen", "jaw"), ("jawOpen",)),
    (("o", "oh"), ("mouthFunnel",)),
    (("u", "uu", "ou", "pucker", "kiss"), ("mouthPucker",)),
    (("e", "ee", "i", "ih", "wide_mouth"), ("mouthStretchLeft", "mouthStretchRight")),
    (("frown", "sad", "sorrow"), ("mouthFrownLeft", "mouthFrownRight")),
    (("angry", "anger", "browdown", "browsdown"), ("browDownLeft", "browDownRight")),
    (("surprise", "surprised", "browup", "browsup", "browraise"), ("browInnerUp",)),
    (("eyewide", "wide"), ("eyeWideLeft", "eyeWideRight")),
    (("squint",), ("eyeSquintLeft", "eyeSquintRight")),
    (("puff",), ("cheekPuff",)),
    (("tongue",), ("tongueOut",)),
    (("sneer",), ("noseSneerLeft", "noseSneerRight")),
)
_SIDE = re.compile(r"(?:^|[_.\-\s])(l|left|r|right)$|(left|right)$", re.IGNORECASE)
_UNNAMED = re.compile(r"^target\d+$")


def _guess(name: str) -> list[tuple[str, float]]:
    """(channel, weight) pairs a morph target named ``name`` probably is; empty if unknown."""
    side = None
    match = _SIDE.search(name)
    if match:
        side = "Left" if (match.group(1) or match.group(2)).lower().startswith("l") else "Right"
        name = name[:match.start()] or name
    key = re.sub(r"[^a-z0-9]", "", name.lower())
    for words, channels in _NAME_HINTS:
        long_words = [w for w in words if len(w) >= 4]
        if key in words or any(w in key for w in long_words):
            if len(channels) == 1:
                return [(channels[0], 1.0)]
            if side is not None:
                return [(c, 1.0) for c in channels if c.endswith(side)]
            return [(c, 0.5) for c in channels]  # one shape for both sides: half from each
    return []


def _toml_key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else json.dumps(name)


def proposed_expressions(mapping: ExpressionMap) -> list[str]:
    """For a model whose morph targets carry no ARKit names (and no VRM expressions), an
    ``[expressions]`` block guessed from the target names, to paste into ``avatar.toml``; a
    commented template when the targets have no names at all. Empty when nothing is to propose.
    """
    if mapping.direct.any() or mapping.expression_names or not mapping.targets:
        return []
    names = list(dict.fromkeys(name for _, _, name in mapping.targets))
    if all(_UNNAMED.match(name) for name in names):
        return ["The morph targets have no names (" + ", ".join(names) + "), so nothing drives "
                "them and nothing can be guessed.",
                "Look at each (persona avatar preview), then uncomment and edit this template "
                "in avatar.toml:",
                "# [expressions]",
                *(f"# {channel} = {json.dumps(name)}"
                  for channel, name in zip(("jawOpen", "mouthSmileLeft", "mouthSmileRight",
                                            "eyeBlinkLeft", "eyeBlinkRight"), names))]
    claimed: dict[str, dict[str, float]] = {}
    unmatched = []
    for name in names:
        guesses = [(c, w) for c, w in _guess(name) if c not in claimed]
        if not guesses:
            unmatched.append(name)
        for channel, weight in guesses:
            claimed[channel] = {name: weight}
    lines = ["No morph target has an ARKit name. Proposed from the target names; check each "
             "with persona avatar preview, then paste into avatar.toml:"]
    if claimed:
        lines.append("[expressions]")
        for channel in BLENDSHAPE_NAMES:  # in ARKit order, as the table
            if channel in claimed:
                (name, weight), = claimed[channel].items()
                value = json.dumps(name) if weight == 1.0 \
                    else f"{{ {_toml_key(name)} = {_weight(weight)} }}"
                lines.append(f"{channel} = {value}")
    if unmatched:
        lines.append("# not guessed (name them yourself: CHANNEL = \"TARGET\"): "
                     + ", ".join(unmatched))
    return lines
