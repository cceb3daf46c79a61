"""Analysis: looking inside binary networks and their runs.

What belongs here: model size and cost (``summary``), hyperparameter sweeps
(``sweep``), recipes side by side (``compare``), loss landscapes (``landscape``), the
figures of runs, sweeps, comparisons and landscapes (``plots``), the table of every
recipe (``recipe_table``) and of the runs in a folder (``runs_table``). These modules
read run directories and build models; training never imports them.
"""
