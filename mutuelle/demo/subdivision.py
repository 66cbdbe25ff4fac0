"""Communes cut into IRIS (activity and green zones, then balanced residential ones, named after
quarters), QPV drawn in the poorest dense places, and the latent fields aggregated per IRIS.
"""

from __future__ import annotations

import math
import random

from mutuelle.demo.communes import COMMUNES, DEPARTEMENT, QPV_NAMES, CommuneSpec
from mutuelle.demo.fields import Field, rng_for
from mutuelle.demo.grid import CELL_KM, _component, _components, _neighbours
from mutuelle.demo.model import Iris, Qpv, Territory


def _make_iris(t: Territory, s: CommuneSpec, cells: list[int], density: Field,
               rng: random.Random, names: list[str], special: dict[str, list[str]]) -> None:
    """Blobs of type A and D first, then the rest into balanced residential IRIS."""
    hx, hy = t.town_halls[s.code]
    taken: set[int] = set()
    blobs: list[tuple[str, list[int]]] = []
    far = max(math.hypot(t.cell_xy[c][0] - hx, t.cell_xy[c][1] - hy) for c in cells)
    for typ in ["A"] * s.n_activite + ["D"] * s.n_divers:
        ring = [c for c in cells if c not in taken
                and 0.35 * far < math.hypot(t.cell_xy[c][0] - hx, t.cell_xy[c][1] - hy) < 0.8 * far]
        weight = [math.exp(-1.5 * t.cell_affluence[c]) if typ == "A" else 1 / density(*t.cell_xy[c])
                  for c in ring]
        centre = rng.choices(ring, weights=weight)[0]
        radius = rng.uniform(0.5, 0.85) if typ == "A" else rng.uniform(0.8, 1.2)
        near = {c for c in cells
                if c not in taken and math.dist(t.cell_xy[c], t.cell_xy[centre]) <= radius}
        blob = _component(near, centre)
        taken |= blob
        blobs.append((typ, sorted(blob)))
    main, *enclaves = _components(set(cells) - taken)
    for part in enclaves:   # cut off by blobs: joins the one it touches most
        touch = [sum(n in set(b) for c in part for n in _neighbours(c)) for _, b in blobs]
        k = max(range(len(blobs)), key=lambda k: (touch[k], -k))
        blobs[k] = (blobs[k][0], sorted(set(blobs[k][1]) | part))
    pops = {c: density(*t.cell_xy[c]) * CELL_KM ** 2 for c in main}
    scale = s.population * rng.uniform(0.97, 1.03) / sum(pops.values())
    for c in cells:
        t.cell_pop[c] = pops.get(c, 0.0) * scale
    if s.n_habitat == 0:
        groups = [sorted(main)]
    else:
        groups = _balanced(sorted(main), t, s.n_habitat, rng)
    _name_iris(t, s, groups, blobs, names, special)


def _balanced(cells: list[int], t: Territory, n: int, rng: random.Random) -> list[list[int]]:
    """``cells`` cut into ``n`` connected groups of similar population.

    Recursive bisection across the principal axis (slightly turned, for less regular shapes)
    at the population quantile; parts cut off from their group then join a neighbour.
    """
    groups: list[list[int]] = []
    _bisect(cells, t, n, rng, groups)
    owner = {c: k for k, g in enumerate(groups) for c in g}
    for k in range(len(groups)):
        parts = _components(set(groups[k]))
        for part in parts[1:]:
            for c in part:
                owner[c] = -1
    orphans = sorted(c for c, k in owner.items() if k == -1)
    while orphans:
        left = []
        for c in orphans:
            near = sorted(owner[m] for m in _neighbours(c) if owner.get(m, -1) >= 0)
            if near:
                owner[c] = max(set(near), key=lambda k: (near.count(k), -k))
            else:
                left.append(c)
        orphans = left
    out: list[list[int]] = [[] for _ in groups]
    for c in cells:
        out[owner[c]].append(c)
    return out


def _bisect(cells: list[int], t: Territory, n: int, rng: random.Random,
            out: list[list[int]]) -> None:
    if n == 1:
        out.append(cells)
        return
    xs = [t.cell_xy[c][0] for c in cells]
    ys = [t.cell_xy[c][1] for c in cells]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    angle = 0.5 * math.atan2(2 * sxy, sxx - syy) + rng.uniform(-0.35, 0.35)
    ca, sa = math.cos(angle), math.sin(angle)
    ordered = sorted(cells, key=lambda c: (t.cell_xy[c][0] * ca + t.cell_xy[c][1] * sa, c))
    n1 = n // 2
    goal = sum(t.cell_pop[c] for c in cells) * n1 / n
    acc, cut = 0.0, 0
    while cut < len(ordered) - (n - n1) and (acc < goal or cut < n1):
        acc += t.cell_pop[ordered[cut]]
        cut += 1
    _bisect(ordered[:cut], t, n1, rng, out)
    _bisect(ordered[cut:], t, n - n1, rng, out)


def _name_iris(t: Territory, s: CommuneSpec, groups: list[list[int]],
               blobs: list[tuple[str, list[int]]], names: list[str],
               special: dict[str, list[str]]) -> None:
    """IRIS codes commune + grand quartier (2 digits) + IRIS (2 digits), named after quarters."""
    if s.n_habitat == 0:
        t.iris.append(Iris(s.code + "0000", s.name, s.code, "Z", groups[0]))
        return
    hx, hy = t.town_halls[s.code]

    def polar(g: list[int]) -> tuple[float, float]:
        w = [t.cell_pop[c] + 1e-3 for c in g]
        gx = sum(t.cell_xy[c][0] * wc for c, wc in zip(g, w)) / sum(w)
        gy = sum(t.cell_xy[c][1] * wc for c, wc in zip(g, w)) / sum(w)
        return math.hypot(gx - hx, gy - hy), math.atan2(gy - hy, gx - hx)

    placed = sorted(groups, key=lambda g: polar(g)[0])
    n_centre = max(1, len(groups) // 8)
    centre, others = placed[:n_centre], sorted(placed[n_centre:], key=lambda g: polar(g)[1])
    size = 5 if len(others) > 20 else 4
    quarters = [("Centre-Ville", centre)]
    for k in range(0, len(others), size):
        quarters.append((names.pop(), others[k:k + size]))
    for q, (qname, members) in enumerate(quarters, start=1):
        members = sorted(members, key=lambda g: polar(g)[0])
        for k, g in enumerate(members, start=1):
            name = qname if len(members) == 1 else f"{qname} {k}"
            t.iris.append(Iris(f"{s.code}{q:02d}{k:02d}", name, s.code, "H", g))
    for k, (typ, cells) in enumerate(blobs, start=1):
        t.iris.append(Iris(f"{s.code}90{k:02d}", special[typ].pop(0), s.code, typ, cells))


def _make_qpv(t: Territory, rng: random.Random) -> None:
    """Five QPV in the poorest dense places, 2.5 km apart, at most two per commune."""
    residential = {c for i in t.iris if i.typ == "H" for c in i.cells}
    dens = sorted(t.cell_pop[c] for c in residential)
    threshold = dens[len(dens) // 2]
    candidates = sorted((c for c in residential if t.cell_pop[c] >= threshold),
                        key=lambda c: (t.cell_affluence[c], c))
    # The central city always has one: its deliberations speak of it.
    centres = [next(c for c in candidates if t.cell_commune[c] == COMMUNES[0].code)]
    for c in candidates:
        if (all(math.dist(t.cell_xy[c], t.cell_xy[o]) > 2.5 for o in centres)
                and sum(t.cell_commune[o] == t.cell_commune[c] for o in centres) < 2):
            centres.append(c)
        if len(centres) == 5:
            break
    names = list(QPV_NAMES)
    rng.shuffle(names)
    for k, centre in enumerate(sorted(centres, key=lambda c: (t.cell_commune[c], c)), start=1):
        commune = t.cell_commune[centre]
        radius, cells = rng.uniform(0.45, 0.75), list[int]()
        while len(cells) < 12 and radius < 2:   # big enough to be a neighbourhood
            near = {c for c in residential if t.cell_commune[c] == commune
                    and math.dist(t.cell_xy[c], t.cell_xy[centre]) <= radius}
            cells = sorted(_component(near, centre))
            radius += 0.1
        q = Qpv(f"QN0{DEPARTEMENT}{k:02d}M", names[k - 1], commune, cells,
                round(sum(t.cell_pop[c] for c in cells)))
        t.qpv.append(q)
        for c in cells:
            t.cell_qpv[c] = q.code
            t.cell_affluence[c] -= 0.75   # concentrated social housing: poorer than around


def _aggregate(t: Territory, youth: Field, take_up: Field) -> None:
    """Population-weighted means of the latent fields over each IRIS; its population."""
    a_rng = rng_for(t.seed, "activity-residents")
    first_a = True
    for i in t.iris:
        for c in i.cells:
            t.cell_iris[c] = i.code
        w = [t.cell_pop[c] for c in i.cells]
        if sum(w) <= 0:   # zones without residents: values of the place itself
            w = [1.0] * len(i.cells)
        xy = [t.cell_xy[c] for c in i.cells]
        i.x = _mean([x for x, _ in xy], w)
        i.y = _mean([y for _, y in xy], w)
        i.affluence = _mean([t.cell_affluence[c] for c in i.cells], w)
        i.youth = _mean([youth(*p) for p in xy], w)
        i.take_up = _mean([take_up(*p) + (0.06 if c in t.cell_qpv else 0)   # social workers there
                           for c, p in zip(i.cells, xy)], w)
        i.qpv_share = _mean([1.0 if c in t.cell_qpv else 0.0 for c in i.cells], w)
        i.centre_km = math.dist((i.x, i.y), t.centre)
        if i.typ == "A":   # a caretaker's flat or a few houses: small counts on purpose
            i.population = 0 if first_a else a_rng.randint(12, 140)
            first_a = False
        elif i.typ == "D":
            i.population = 0
        else:
            i.population = round(sum(t.cell_pop[c] for c in i.cells))
    t.iris.sort(key=lambda i: i.code)


def _mean(values: list[float], weights: list[float]) -> float:
    return sum(v * w for v, w in zip(values, weights)) / sum(weights)
