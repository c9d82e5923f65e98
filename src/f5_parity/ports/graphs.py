"""Which F5 stage each graph of a port computes, read off its calls: the names, shapes and dtypes of what goes
in and out, and the dataflow between calls (a step's output is the next call's state). A port whose names and
shapes say nothing is described by a small map file (--port-map): {"<graph file name>": {"stage": "mel" |
"step" | "decode", "inputs": {role: input name}, "output": output name}}; roles: mel: audio; step: state, cond,
text, time; decode: mel, start (the frame its decoded part starts at); conditioning: audio, text."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

STAGES = ("mel", "step", "decode", "conditioning")


@dataclass
class PortCall:
    """One onnxruntime InferenceSession.run as the path made it: the arrays are copies (a port reuses its
    buffers), the outputs in the order the call asked for them."""

    graph: str  # the .onnx file the session was made from ("<bytes>" for a model handed as bytes)
    inputs: dict[str, np.ndarray]
    outputs: dict[str, np.ndarray]


@dataclass
class GraphRole:
    """One graph of the port: the stage it computes and which of its inputs and outputs play which part."""

    graph: str
    stage: str  # "mel" | "step" | "decode" | "unknown"
    inputs: dict[str, str] = field(default_factory=dict)  # role -> input name
    output: str | None = None
    calls: int = 0
    how: str = ""  # "shapes and names" | "map file" | why it is unknown
    # what the graph holds and computes in: its stored weights' dtypes -> tensors, "cast to <dtype>" -> Cast nodes
    weight_dtypes: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"graph": self.graph, "stage": self.stage, "inputs": self.inputs, "output": self.output,
                "calls": self.calls, "how": self.how, "weight_dtypes": self.weight_dtypes}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "GraphRole":
        return cls(d["graph"], d["stage"], dict(d.get("inputs") or {}), d.get("output"), int(d.get("calls") or 0),
                   d.get("how") or "", dict(d.get("weight_dtypes") or {}))


def summary(calls: list[PortCall]) -> list[dict[str, Any]]:
    """One record per graph: its file, how often it ran, the names, shapes and dtypes of its first call."""
    out: dict[str, dict[str, Any]] = {}
    for c in calls:
        entry = out.setdefault(c.graph, {"graph": c.graph, "calls": 0,
                                         "inputs": {k: [list(v.shape), str(v.dtype)] for k, v in c.inputs.items()},
                                         "outputs": {k: [list(v.shape), str(v.dtype)] for k, v in c.outputs.items()}})
        entry["calls"] += 1
    return list(out.values())


def weight_dtypes(graph: str) -> dict[str, int]:
    """The element types of the graph's stored weights (initializers of two or more dimensions) and of its Cast
    nodes' targets ("cast to float16"), read with onnx without loading external data: a graph that casts its
    fp32 inputs to fp16 computes in fp16, whatever its inputs and outputs are."""
    try:
        import onnx
        from onnx import helper
    except ImportError:  # onnx reads graphs; without it the dtype is judged by the values alone
        return {}
    try:
        model = onnx.load(graph, load_external_data=False)
    except Exception:  # noqa: BLE001 - a graph onnx cannot read is still judged by its values
        return {}
    counts: dict[str, int] = {}
    for init in model.graph.initializer:
        if len(init.dims) < 2:
            continue
        name = np.dtype(helper.tensor_dtype_to_np_dtype(init.data_type)).name
        counts[name] = counts.get(name, 0) + 1
    for node in model.graph.node:
        if node.op_type == "Cast":
            to = next((a.i for a in node.attribute if a.name == "to"), None)
            if to is not None:
                key = "cast to " + np.dtype(helper.tensor_dtype_to_np_dtype(to)).name
                counts[key] = counts.get(key, 0) + 1
    return counts


REDUCED = ("float16", "bfloat16", "int8", "uint8")


def reduced_precision(dtypes: dict[str, int]) -> list[str]:
    """The reduced types a graph holds weights in or casts to (float16, bfloat16; int8/uint8 quantised weights)."""
    return sorted({k.removeprefix("cast to ") for k, n in dtypes.items() if n and
                   k.removeprefix("cast to ") in REDUCED})


def _mel_dims(a: np.ndarray, n_mels: int) -> bool:
    """(1, frames, n_mels) or (1, n_mels, frames) floats."""
    return a.ndim == 3 and np.issubdtype(a.dtype, np.floating) and n_mels in (a.shape[1], a.shape[2])


def _by_name(names: list[str], *words: str) -> str | None:
    return next((n for n in names for w in words if w in n.lower()), None)


def _frames(a: np.ndarray, n_mels: int) -> int:
    return a.shape[1] if a.shape[2] == n_mels else a.shape[2]


def _audio(a: np.ndarray, n_mels: int) -> bool:
    return a.size >= 1024 and a.shape[-1] == a.size and not _mel_dims(a, n_mels)


def _identify(graph: str, calls: list[PortCall], n_mels: int, hop: int) -> GraphRole:
    """The stage a graph computes, from its first call (and the second, for the dataflow of a step):
    mel: audio in, a mel out with the frames a centred STFT gives (samples // hop + 1);
    step: a mel-shaped state in and out (the output is the next call's input), with its cond mel and text ids,
          or without them (conditioning: a port that embeds the reference and the text in another graph);
    conditioning: audio and text ids in, no mel of the reference out (the mel and the text embedding fused);
    decode: a mel in, audio out."""
    first = calls[0]
    ins, outs = first.inputs, first.outputs
    mel_in = [k for k, v in ins.items() if _mel_dims(v, n_mels)]
    audio_in = [k for k, v in ins.items() if _audio(v, n_mels)]
    audio_out = [k for k, v in outs.items() if _audio(v, n_mels)]
    text_in = [k for k, v in ins.items() if np.issubdtype(v.dtype, np.integer) and v.ndim == 2 and v.size > 1]
    time_in = [k for k, v in ins.items() if v.size == 1]
    role = GraphRole(graph, "unknown", calls=len(calls), how="shapes and names")
    if audio_in:
        samples = ins[audio_in[0]].size
        mel_out = [k for k, v in outs.items() if _mel_dims(v, n_mels) and _frames(v, n_mels) == samples // hop + 1]
        if mel_out:
            role.stage, role.inputs, role.output = "mel", {"audio": audio_in[0]}, mel_out[0]
        elif text_in:
            role.stage, role.inputs = "conditioning", {"audio": audio_in[0], "text": text_in[0]}
        else:
            role.how = "audio in, but no mel of it out and no text ids in (give --port-map)"
        return role
    state = _state_input(calls, mel_in) or _by_name(mel_in, "noise", "state", "latent", "x")
    same = [k for k, v in outs.items() if state and v.shape == ins[state].shape and _mel_dims(v, n_mels)]
    if state and same and (len(calls) > 1 or time_in):
        cond = next((k for k in mel_in if k != state), None)
        role.stage, role.output = "step", same[0]
        role.inputs = {k: v for k, v in (("state", state), ("cond", cond), ("text", text_in[0] if text_in else None),
                                         ("time", time_in[0] if time_in else None)) if v}
    elif mel_in and audio_out:
        role.stage, role.inputs, role.output = "decode", {"mel": mel_in[0]}, audio_out[0]
        cut = next((k for k in time_in if np.issubdtype(ins[k].dtype, np.integer)), None)
        if cut:  # an index into the mel (DakeQQ's ref_signal_len): where the decoded part may start
            role.inputs["start"] = cut
    else:
        role.how = "its inputs and outputs match no F5 stage (give --port-map)"
    return role


def _state_input(calls: list[PortCall], candidates: list[str]) -> str | None:
    """The input that carries the previous call's output (the ODE state): read off the dataflow."""
    if len(calls) < 2:
        return None
    for name in candidates:
        for out in calls[0].outputs.values():
            if out.shape == calls[1].inputs[name].shape and np.array_equal(out, calls[1].inputs[name]):
                return name
    return None


def identify(calls: list[PortCall], n_mels: int, hop: int, mapping: dict[str, Any] | None = None) -> list[GraphRole]:
    """Each graph's role, in the order the graphs first ran."""
    by_graph: dict[str, list[PortCall]] = {}
    for c in calls:
        by_graph.setdefault(c.graph, []).append(c)
    roles = []
    for graph, its_calls in by_graph.items():
        given = (mapping or {}).get(Path(graph).name)
        if given:
            role = GraphRole(graph, given["stage"], dict(given.get("inputs") or {}), given.get("output"),
                             len(its_calls), "map file")
        else:
            role = _identify(graph, its_calls, n_mels, hop)
        role.weight_dtypes = weight_dtypes(graph) if graph != "<bytes>" else {}
        roles.append(role)
    return roles


def read_port_map(path) -> dict[str, Any]:
    """The --port-map JSON file, checked: each graph's stage is one of STAGES and its roles are names."""
    import json

    from f5_parity.errors import InputError

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"--port-map {path}: not a JSON file ({exc})",
                         'write {"F5_Transformer.onnx": {"stage": "step", "inputs": {"state": "noise", ...}, '
                         '"output": "denoised"}}') from None
    roles = {"mel": {"audio"}, "step": {"state", "cond", "text", "time"}, "decode": {"mel", "start"},
             "conditioning": {"audio", "text"}}
    for graph, entry in (data.items() if isinstance(data, dict) else [("", None)]):
        stage = entry.get("stage") if isinstance(entry, dict) else None
        if stage not in roles:
            raise InputError(f"--port-map {path}: {graph or 'the file'} has no stage of {', '.join(STAGES)}",
                             'give each graph file name {"stage": "mel" | "step" | "decode", "inputs": {...}, '
                             '"output": "..."}')
        unknown = set(entry.get("inputs") or {}) - roles[stage]
        if unknown or (stage != "conditioning" and not isinstance(entry.get("output"), str)):
            raise InputError(f"--port-map {path}: {graph}'s " + (f"roles {sorted(unknown)} are not {stage} roles"
                             if unknown else "output is not named"),
                             f"a {stage} graph's roles are {', '.join(sorted(roles[stage]))}, and \"output\" names "
                             "the output compared")
    return data


def calls_of(calls: list[PortCall], graph: str) -> list[PortCall]:
    return [c for c in calls if c.graph == graph]
