"""五个一 field work of a grid worker: patrols (巡查) with their tracks and coverage, visits (走访) and visit plans."""
