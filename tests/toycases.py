"""A deterministic generator of random toy-policy case files, for backend and invariance tests."""
from __future__ import annotations

import random

DISTRICTS = ["浦东新区", "徐汇区", "外地", "闵行区", "黄浦区"]


def toy_case(seed: int) -> dict:
    rng = random.Random(seed)
    case = {"as_of": f"2020-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "applicant": {"name": f"申请人{seed}", "district": rng.choice(DISTRICTS)}}
    if rng.random() < 0.7:
        case["applicant"]["employees"] = rng.choice([0, 3, 12, 49, 50, 51, 200])
    if rng.random() < 0.6:
        case["applicant"]["certified"] = rng.random() < 0.7
    if rng.random() < 0.5:
        case["applicant"]["registered_on"] = f"2020-{rng.randint(1, 6):02d}-{rng.randint(1, 28):02d}"
    if rng.random() < 0.1:
        case["applicant"]["inspector"] = "钱检查员"
    vehicles = []
    for i in range(rng.randint(0, 4)):
        v = {"plate": f"沪{chr(65 + i)}-{seed % 1000:03d}", "kind": rng.choice(["truck", "cart"])}
        if rng.random() < 0.8:
            v["inspected_on"] = f"{rng.choice([2018, 2019, 2020])}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        if rng.random() < 0.7:
            v["passed"] = rng.random() < 0.8
        vehicles.append(v)
    if vehicles or rng.random() < 0.5:
        case["vehicles"] = vehicles
    incidents = [{"date": f"{rng.randint(2015, 2020)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                  "severity": rng.choice(["minor", "minor", "major"])} for _ in range(rng.randint(0, 5))]
    if incidents or rng.random() < 0.3:
        case["incidents"] = incidents
    return case
