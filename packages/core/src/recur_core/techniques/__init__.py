"""Training techniques from the papers, each usable with any registered layer or model through the engine."""

from recur_core.techniques.curriculum import Curriculum, MultiHeadLagTask, lag_targets
from recur_core.techniques.dynamics_metrics import (
    hellinger_spectrum_distance,
    prediction_error,
    state_space_divergence,
)
from recur_core.techniques.gradient_noise import GradientNoise, add_gradient_noise, noise_std
from recur_core.techniques.hypernetwork import (
    ContinualHyperNet,
    FunctionalTarget,
    HyperCLTask,
    LSTMHyperNetwork,
    MLPHyperNetwork,
    output_regularizer,
    train_continual,
)
from recur_core.techniques.jrt import (
    ReadTwiceData,
    read_twice,
    read_twice_batch,
    read_twice_collate,
    read_twice_dataset,
)
from recur_core.techniques.pruning import (
    CubicPruning,
    NarangPruning,
    attach_masks,
    cubic_sparsity,
    format_sparsity_report,
    magnitude_mask,
    narang_slopes,
    narang_threshold,
    prunable_parameters,
    sparsity_report,
)
from recur_core.techniques.recoding import Recoder, recoding_signal
from recur_core.techniques.state_collapse import (
    StateFix,
    StateFixCallback,
    StateFixed,
    apply_state_fix,
    fixed_linear_attn,
    fixed_linear_attn_step,
)
from recur_core.techniques.teacher_forcing import GTFTask

__all__ = [
    "ContinualHyperNet",
    "CubicPruning",
    "Curriculum",
    "FunctionalTarget",
    "GTFTask",
    "GradientNoise",
    "HyperCLTask",
    "LSTMHyperNetwork",
    "MLPHyperNetwork",
    "MultiHeadLagTask",
    "NarangPruning",
    "ReadTwiceData",
    "Recoder",
    "StateFix",
    "StateFixCallback",
    "StateFixed",
    "add_gradient_noise",
    "apply_state_fix",
    "attach_masks",
    "cubic_sparsity",
    "fixed_linear_attn",
    "fixed_linear_attn_step",
    "format_sparsity_report",
    "hellinger_spectrum_distance",
    "lag_targets",
    "magnitude_mask",
    "narang_slopes",
    "narang_threshold",
    "noise_std",
    "output_regularizer",
    "prediction_error",
    "prunable_parameters",
    "read_twice",
    "read_twice_batch",
    "read_twice_collate",
    "read_twice_dataset",
    "recoding_signal",
    "sparsity_report",
    "state_space_divergence",
    "train_continual",
]
