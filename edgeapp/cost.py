"""Cost per inference and the Efficiency Quotient of seed 000 ("From Cloud to Edge", 2023).

cost = price per hour × seconds / 3600, and EQ = 1 / (cost × seconds): faster and cheaper scores
higher. Check against the paper's m5.4xlarge quantized row: 53.05496502 s at $0.768/h gives
cost 0.01131839 USD and EQ 1.665287.
"""

from __future__ import annotations


def inference_cost_usd(price_per_hour: float, seconds: float) -> float:
    """Return the cost of one inference that took `seconds` on a machine billed `price_per_hour`."""
    return price_per_hour * seconds / 3600.0


def efficiency_quotient(price_per_hour: float, seconds: float) -> float | None:
    """Return EQ = 1 / (cost × time), or None when it is undefined (free machine or zero time)."""
    cost = inference_cost_usd(price_per_hour, seconds)
    if cost <= 0 or seconds <= 0:
        return None
    return 1.0 / (cost * seconds)
