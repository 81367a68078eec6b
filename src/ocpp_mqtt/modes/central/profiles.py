"""The northbound profiles of central mode, built from `profiles` (the `emqx` stream is the
relay's own and needs no object here)."""

from __future__ import annotations

from ...config import Settings
from .profile import Profile


def make_profiles(settings: Settings) -> list[Profile]:
    profiles: list[Profile] = []
    for name in settings.active_profiles:
        if name == "native":
            from ...northbound.native import NativeProfile

            profiles.append(NativeProfile(settings))
    return profiles
