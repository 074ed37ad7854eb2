"""The recipe of torch_recipe.py as one compiled step on Keras's JAX backend.

Why: on the H200 the eager torch path spent 68 ms per ResNet-18 step (198 ms for the assembled
network) in Python overhead whatever the batch, too slow for (a) in a 15-minute lease. Here the
whole step (forward with DropBlock and BN updates, the soft-target loss with L2 on kernels, SGD
with momentum) is one `jax.jit` program over the model's variables, run through a
`keras.StatelessScope` that also maps DropBlock's shared keep probability to a traced scalar (it is
not one of the model's variables). The LR and keep probability of each step are inputs, so the
schedule never retraces. Same interface as `torch_recipe.Trainer`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import keras
import numpy as np

from torch_recipe import DECAYED_NAMES, Recipe, keep_prob, learning_rate


class JaxTrainer:
    def __init__(self, model, recipe: Recipe, classes: int, seed: int):
        from assembled_cnn.nets import model_info

        self.model, self.recipe, self.classes, self.step = model, recipe, classes, 0
        self.trainable = [v.value for v in model.trainable_variables]
        self.non_trainable = [v.value for v in model.non_trainable_variables]
        self.decayed = [v.name in DECAYED_NAMES for v in model.trainable_variables]
        self.velocity = [jnp.zeros_like(w) for w in self.trainable]
        shared = model_info(model).keep_prob.variable
        self.keep_prob_variable = shared if isinstance(shared, keras.Variable) else None
        self.key = jax.random.PRNGKey(seed)
        self._step = jax.jit(self._train_step, donate_argnums=(0, 1, 2))

    def forward(self, trainable, non_trainable, kp, images, training: bool):
        model = self.model
        mapping = list(zip(model.trainable_variables, trainable)) + list(zip(model.non_trainable_variables, non_trainable))
        if self.keep_prob_variable is not None:
            mapping.append((self.keep_prob_variable, kp))
        with keras.StatelessScope(state_mapping=mapping) as scope:
            logits = model(images, training=training)
        return logits, [scope.get_current_value(v) for v in model.non_trainable_variables]

    def _targets(self, images, labels, key):
        recipe = self.recipe
        targets = jax.nn.one_hot(labels, self.classes) * (1.0 - recipe.label_smoothing) + recipe.label_smoothing / self.classes
        if recipe.mixup_alpha <= 0:
            return images, targets
        half = images.shape[0] // 2    # mixup2, as torch_recipe.mixup2
        lam = jax.random.beta(key, recipe.mixup_alpha, recipe.mixup_alpha, (2, half)).astype(images.dtype)
        x1, x2, t1, t2 = images[:half], images[half:2 * half], targets[:half], targets[half:2 * half]
        l1, l2 = lam[0][:, None, None, None], lam[1][:, None, None, None]
        mixed = jnp.concatenate([l1 * x1 + (1 - l1) * x2, l2 * x1 + (1 - l2) * x2[::-1]])
        m1, m2 = lam[0][:, None], lam[1][:, None]
        return mixed, jnp.concatenate([m1 * t1 + (1 - m1) * t2, m2 * t1 + (1 - m2) * t2[::-1]])

    def _train_step(self, trainable, non_trainable, velocity, images, labels, lr, kp, key):
        images, targets = self._targets(images, labels, key)

        def loss_fn(weights):
            logits, updated = self.forward(weights, non_trainable, kp, images, True)
            loss = -(targets * jax.nn.log_softmax(logits.astype(jnp.float32))).sum(-1).mean()
            l2 = sum(0.5 * jnp.sum(jnp.square(w.astype(jnp.float32))) for w, d in zip(weights, self.decayed) if d)
            return loss + self.recipe.weight_decay * l2, updated

        (loss, updated), grads = jax.value_and_grad(loss_fn, has_aux=True)(trainable)
        velocity = [self.recipe.momentum * v - lr * g for v, g in zip(velocity, grads)]   # keras.optimizers.SGD
        trainable = [w + v for w, v in zip(trainable, velocity)]
        return trainable, updated, velocity, loss

    def train_step(self, images, labels):
        """images: NHWC float (numpy or CPU torch); labels: int class ids."""
        self.key, key = jax.random.split(self.key)
        lr = jnp.float32(learning_rate(self.recipe, self.step))
        kp = jnp.float32(keep_prob(self.recipe, self.step))
        self.trainable, self.non_trainable, self.velocity, loss = self._step(
            self.trainable, self.non_trainable, self.velocity, jnp.asarray(np.asarray(images)),
            jnp.asarray(np.asarray(labels)), lr, kp, key)
        self.step += 1
        return loss

    def finish(self) -> None:
        """Write the trained values back into the Keras variables (for anything eager afterwards)."""
        for variable, value in zip(self.model.trainable_variables, self.trainable):
            variable.assign(value)
        for variable, value in zip(self.model.non_trainable_variables, self.non_trainable):
            variable.assign(value)
