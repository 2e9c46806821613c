#!/usr/bin/env python3
"""bench/recall_gen.py - N FSMA 204 critical tracking events as JSONL files
for a custody file source (Python standard library only). Deterministic for
a given N and seed.

Shape, over one year: farm lots go harvest -> cooling -> packing ->
shipping (packhouse to a distribution centre) -> receiving (there). Every
four farm lots, the distribution centre makes one lot of product from two or
three of them (a transformation naming them in input_lots; three times in
ten also from the previous product lot, so some chains run deeper), ships it
to a store and the store receives it. About 4.6 events per lot, so 10
million events are about 2.2 million lots.

Writes DIR/NNNNN.jsonl (PER_FILE events each) and DIR/../probe.json: a farm
lot from the middle of the year whose product lot is itself an input of a
later product lot (a trace of two hops or more), with its date range.

    recall_gen.py --events 10000000 --dir WORK/drop [--per-file 50000] [--seed 204]
"""
import argparse
import json
import os
import random
import sys

PRODUCTS = ["Romaine lettuce, 24ct", "Fresh-cut spinach 10oz", "Roma tomatoes", "Cucumbers, field",
            "Cantaloupe, whole", "Fresh herbs, cilantro", "Shell eggs, dozen", "Atlantic salmon fillet",
            "Bell peppers, mixed", "Sprouts, alfalfa"]
MIXES = ["Salad mix, spring", "Salsa, fresh", "Fruit cup, melon", "Herb blend", "Sandwich kit"]
UNITS = ["kg", "lb", "case", "pallet"]
YEAR_MS = 365 * 86400 * 1000
BASE_S = 1767225600  # 2026-01-01T00:00:00Z


def iso(ms):
    s = BASE_S + ms // 1000
    days, rem = divmod(s, 86400)
    # civil from days (1970-01-01 = day 0), Howard Hinnant's algorithm
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    y += m <= 2
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (y, m, d, rem // 3600, rem // 60 % 60, rem % 60)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--per-file", type=int, default=50000)
    ap.add_argument("--seed", type=int, default=204)
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    rnd = random.Random(a.seed)
    groups = max(1, a.events // 23)  # 4 farm lots x 5 events + 1 product lot x 3 events
    step = YEAR_MS // groups
    out = None
    nfile = 0
    written = 0
    lines = []
    probe = None
    prev_product = None
    product_parent = {}  # product lot -> the later product lot that consumed it (for the probe)
    farm_of_product = {}

    def emit(line):
        nonlocal out, nfile, written, lines
        if written >= a.events:
            return  # exactly N: the last lot may stop mid-way
        lines.append(line)
        written += 1
        if len(lines) >= a.per_file:
            flush()

    def flush():
        nonlocal nfile, lines
        if not lines:
            return
        nfile += 1
        with open(os.path.join(a.dir, "%05d.jsonl" % nfile), "w") as f:
            f.write("\n".join(lines))
            f.write("\n")
        lines = []

    def event(lot, typ, ms, origin, dest, product, qty, unit, supplier, inputs=None):
        s = ('{"traceability_lot_code":"%s","event_type":"%s","event_timestamp":"%s","product_description":"%s",'
             '"quantity":%s,"unit_of_measure":"%s","origin_location_id":"%s","destination_location_id":"%s",'
             '"supplier_id":"%s"' % (lot, typ, iso(ms), product, qty, unit, origin, dest, supplier))
        if inputs:
            s += ',"input_lots":[%s]' % ",".join('"%s"' % x for x in inputs)
        emit(s + "}")

    g = 0
    while written < a.events:
        t0 = g * step
        farm_lots = []
        for k in range(4):
            if written >= a.events:
                break
            lot = "TLC-%08d" % (g * 5 + k)
            farm = "FARM-%04d" % rnd.randrange(2000)
            pack = "PACK-%03d" % rnd.randrange(300)
            dc = "DC-%02d" % (g % 40)
            product = PRODUCTS[rnd.randrange(len(PRODUCTS))]
            qty = "%d.%02d" % (rnd.randrange(50, 2000), rnd.randrange(100))
            unit = UNITS[rnd.randrange(len(UNITS))]
            sup = "SUP-%d" % (1000 + rnd.randrange(1000))
            ms = t0 + k * 600000
            event(lot, "harvest", ms, farm, farm, product, qty, unit, sup)
            event(lot, "cooling", ms + 3600000, farm, farm, product, qty, unit, sup)
            event(lot, "packing", ms + 7200000, pack, pack, product, qty, unit, sup)
            event(lot, "shipping", ms + 10800000, pack, dc, product, qty, unit, sup)
            event(lot, "receiving", ms + 28800000, pack, dc, product, qty, unit, sup)
            farm_lots.append(lot)
        if written >= a.events or len(farm_lots) < 2:
            break
        # the distribution centre's product lot
        plot = "TLC-%08d" % (g * 5 + 4)
        inputs = rnd.sample(farm_lots, rnd.choice((2, 3)))
        if prev_product and rnd.random() < 0.3:
            inputs.append(prev_product)
            product_parent[prev_product] = plot
        for x in inputs:
            farm_of_product.setdefault(plot, []).append(x)
        dc = "DC-%02d" % (g % 40)
        store = "STORE-%04d" % rnd.randrange(5000)
        mix = MIXES[rnd.randrange(len(MIXES))]
        qty = str(rnd.randrange(20, 400))
        ms = t0 + 86400000
        event(plot, "transformation", ms, dc, dc, mix, qty, "case", "SUP-9000", inputs)
        event(plot, "shipping", ms + 7200000, dc, store, mix, qty, "case", "SUP-9000")
        event(plot, "receiving", ms + 28800000, dc, store, mix, qty, "case", "SUP-9000")
        # the probe: the first farm lot after mid-year whose product lot was consumed again
        if probe is None and prev_product in product_parent and g >= groups // 2:
            for x in farm_of_product.get(prev_product, []):
                if x.startswith("TLC-") and int(x[4:]) % 5 != 4:
                    probe = {"lot": x, "product": prev_product, "next": product_parent[prev_product],
                             "from": iso((g - 1) * step)[:10], "to": iso((g - 1) * step + 7 * 86400000)[:10]}
                    break
        prev_product = plot
        g += 1
    flush()
    if probe is None:  # tiny N: any farm lot
        probe = {"lot": "TLC-00000000", "from": iso(0)[:10], "to": iso(YEAR_MS)[:10]}
    probe["events"] = written
    probe["files"] = nfile
    with open(os.path.join(os.path.dirname(os.path.abspath(a.dir)), "probe.json"), "w") as f:
        json.dump(probe, f)
    print(json.dumps(probe))
    return 0


if __name__ == "__main__":
    sys.exit(main())
