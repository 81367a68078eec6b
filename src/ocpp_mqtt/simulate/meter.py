"""A charging session's electrical model: energy register, power, per-phase current and voltage,
and the EV's state of charge.

No I/O and no clock of its own: `advance(seconds)` moves it forward, so tests and the charge
point decide the time. Values are plausible, not physics: the EV draws a target power, tapers
above 80 % SoC, and obeys the charging limit the central system set.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

NOMINAL_VOLTAGE = 230.0


@dataclass(slots=True)
class Meter:
    rng: random.Random
    max_power_w: float = 11_000.0
    phases: int = 3
    energy_wh: float = 0.0  # the register: never goes back, kept over transactions
    power_w: float = 0.0
    voltage_v: list[float] = field(default_factory=lambda: [NOMINAL_VOLTAGE] * 3)
    current_a: list[float] = field(default_factory=lambda: [0.0] * 3)
    soc: float = 50.0
    capacity_wh: float = 60_000.0
    ev_max_w: float = 11_000.0
    limit_w: float | None = None  # from SetChargingProfile (A limits are converted)
    charging: bool = False

    def __post_init__(self) -> None:
        self.energy_wh = float(self.rng.randrange(1_000_000, 50_000_000)) / 10

    def plug_in(self) -> None:
        """A new EV: its battery, charge level and how much power it takes."""
        self.capacity_wh = self.rng.choice((40_000.0, 58_000.0, 77_000.0, 90_000.0))
        self.soc = self.rng.uniform(10, 70)
        self.ev_max_w = min(self.max_power_w, self.rng.choice((3_700.0, 7_400.0, 11_000.0,
                                                               22_000.0)))

    def limit_current(self, amps: float | None) -> None:
        self.limit_w = None if amps is None else amps * NOMINAL_VOLTAGE * self.phases

    def target_power(self) -> float:
        if not self.charging or self.soc >= 100.0:
            return 0.0
        power = self.ev_max_w
        if self.soc > 80.0:  # constant-voltage phase: the EV tapers its power
            power *= max(0.1, (100.0 - self.soc) / 20.0)
        if self.limit_w is not None:
            power = min(power, self.limit_w)
        return max(0.0, min(power, self.max_power_w))

    def advance(self, seconds: float) -> None:
        """Integrate energy over `seconds` at the present power, then sample new readings."""
        if seconds > 0 and self.power_w > 0:
            wh = self.power_w * seconds / 3600.0
            self.energy_wh += wh
            self.soc = min(100.0, self.soc + 100.0 * wh / self.capacity_wh)
        target = self.target_power()
        self.power_w = target * self.rng.uniform(0.97, 1.0) if target > 0 else 0.0
        self.voltage_v = [NOMINAL_VOLTAGE * self.rng.uniform(0.97, 1.03) for _ in range(3)]
        per_phase = self.power_w / self.phases
        self.current_a = [
            per_phase / self.voltage_v[i] if i < self.phases else 0.0 for i in range(3)
        ]

    @property
    def energy_int(self) -> int:
        """The register in whole Wh (1.6 meterStart/meterStop are integers)."""
        return int(self.energy_wh)
