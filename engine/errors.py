"""The engine's error base class: `except EngineError` catches every refusal of the
engine (a missing model, an unknown language, a bad recipe, mismatched models), each
also a subclass of the built-in error it refines (ValueError, FileNotFoundError)."""


class EngineError(Exception):
    """Something the engine refuses to do, with a message for a person."""


class ModelMismatchError(EngineError, ValueError):
    """An LCM and a codec that do not share a concept space."""


def check_same_space(lcm, codec) -> None:
    """Refuse an LCM trained on concepts of another size than the codec makes."""
    if lcm.dim != codec.dim:
        raise ModelMismatchError(
            f"the LCM works on {lcm.dim}-d concepts but the codec {codec.name!r} makes "
            f"{codec.dim}-d ones: pick an LCM trained on this codec's embeddings."
        )
