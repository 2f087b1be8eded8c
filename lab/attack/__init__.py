"""`cclab attack`: a topology's cloud rules attacked on real packets, beside what the rules
say should happen.

    planned = plan(topo)                 # lab.attack.expect: every attack x target, expected
    matrix = replay(lab, planned, name)  # lab.attack.replay: the packets, observed
    matrix.summary(), markdown(matrix), compare(before, after)

`catalog` (the attacks, the targets), `expect`, `matrix` and `diff` are pure; `replay`
drives a running lab.
"""
