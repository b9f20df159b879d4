"""Backprop by hand, then by tinydl: the two agree bit for bit.

A 2-3-1 ReLU network, one sample, squared error. Every number is a multiple of 1/4, so every
product and sum below is exact in binary floating point: "equal" here means equal, not close.

    z1 = x W1 + b1        (1, 3)
    h  = relu(z1)         (1, 3)
    y^ = h W2 + b2        (1, 1)
    L  = (y^ - y)^2       mean over the one element

Run:  python examples/mlp_backprop.py
"""
import numpy as np

import tinydl as td
from tinydl import layers

X = np.array([[1.0, 2.0]])
Y = np.array([[3.0]])
W1 = np.array([[0.5, -1.0, 0.25], [1.0, 0.5, -0.5]])
B1 = np.array([0.0, 0.5, 0.25])
W2 = np.array([[1.0], [-2.0], [0.5]])
B2 = np.array([0.5])


def by_hand(verbose=False):
    """The forward values and every gradient, one chain-rule step at a time."""
    say = print if verbose else (lambda *a: None)
    z1 = X @ W1 + B1
    h = np.maximum(z1, 0)
    y_hat = h @ W2 + B2
    loss = float(np.mean((y_hat - Y) ** 2))
    say(f"forward:  z1 = x W1 + b1 = {z1}\n          h = relu(z1) = {h}\n"
        f"          y^ = h W2 + b2 = {y_hat}\n          L = (y^ - y)^2 = {loss}")
    dy = 2 * (y_hat - Y) / Y.size        # dL/dy^
    dW2 = h.T @ dy                       # dL/dW2 = h^T dL/dy^
    db2 = dy.sum(axis=0)                 # dL/db2 = sum over the batch
    dh = dy @ W2.T                       # dL/dh  = dL/dy^ W2^T
    dz1 = dh * (z1 > 0)                  # relu passes the gradient where z1 > 0
    dW1 = X.T @ dz1
    db1 = dz1.sum(axis=0)
    dx = dz1 @ W1.T
    say(f"backward: dL/dy^ = 2 (y^ - y) = {dy}\n          dL/dW2 = h^T dL/dy^ = {dW2.ravel()}\n"
        f"          dL/db2 = {db2}\n          dL/dh = dL/dy^ W2^T = {dh}\n"
        f"          dL/dz1 = dL/dh * [z1 > 0] = {dz1}\n          dL/dW1 = x^T dL/dz1 =\n{dW1}\n"
        f"          dL/db1 = {db1}\n          dL/dx = dL/dz1 W1^T = {dx}")
    return {"loss": loss, "W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "x": dx}


def by_tinydl():
    """The same network in tinydl; its gradients after one backward pass."""
    model = td.Sequential([layers.Input((2,)), layers.Dense(3, activation="relu"), layers.Dense(1)])
    model.build(dtype=np.float64)
    model.set_weights([W1, B1, W2, B2])
    loss_fn = td.losses.MeanSquaredError()
    model.zero_grad()
    loss = loss_fn(Y, model.forward(X, training=True))
    dx = model.backward(loss_fn.backward())
    g = [p.grad for p in model.trainable_weights]
    return {"loss": loss, "W1": g[0], "b1": g[1], "W2": g[2], "b2": g[3], "x": dx}


def main():
    hand = by_hand(verbose=True)
    ours = by_tinydl()
    print("\ntinydl's gradients:")
    for name in ("W1", "b1", "W2", "b2", "x"):
        same = np.array_equal(hand[name], td.to_numpy(ours[name]))
        print(f"  dL/d{name:<2} = {np.ravel(td.to_numpy(ours[name]))}  {'== hand' if same else '!= hand'}")
    print(f"  loss   = {ours['loss']}  {'== hand' if ours['loss'] == hand['loss'] else '!= hand'}")


if __name__ == "__main__":
    main()
