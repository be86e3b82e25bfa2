"""Buggy: each hidden unit's gradient takes only one of its two paths to the loss.

The student pictured the network as two chains, x -> h1 -> y1 and x -> h2 -> y2, and
wrote ``grad_h1_out = grad_y1_in*v11`` and ``grad_h2_out = grad_y2_in*v22``. But h1
also feeds y2 (through v12) and h2 also feeds y1 (through v21): 002's "gradients add at
branches", ``grad_h1_out = grad_y1_in*v11 + grad_y2_in*v12``. The output weights' gradients
are right; the four first-layer ones are wrong (right only where the missing path
carries nothing, e.g. v12 = v21 = 0).
"""
import numpy as np

ZOO = {'system': 'manual_222',
       'mistake': "hidden gradients take one path each (the second output's contribution not summed)",
       'fails': ['oracles', 'worked examples'],
       'diagnosis': None,
       'truth': {'wrong': ['w11', 'w12', 'w21', 'w22'],
                 'layer': 1,
                 'op': None,
                 'operand': None,
                 'pattern': 'only one of the two paths at a branch (contributions not summed)',
                 'looks_like': None}}


def sigmoid(z):
    return 1./(1+np.exp(-z))


def forward(x, w):
    h1_in = x[0] * w[0] + x[1] * w[2]
    h2_in = x[0] * w[1] + x[1] * w[3]

    h1_out = sigmoid(h1_in)
    h2_out = sigmoid(h2_in)

    y1_in = h1_out * w[4] + h2_out * w[6]
    y2_in = h1_out * w[5] + h2_out * w[7]

    y1_out = sigmoid(y1_in)
    y2_out = sigmoid(y2_in)
    return y1_out, y2_out


def gradients(x, t, w):
    x1, x2 = x[0], x[1]
    t1, t2 = t[0], t[1]
    w11, w12, w21, w22, v11, v12, v21, v22 = [w[i] for i in range(8)]

    # forward pass, keeping every intermediate value
    h1_in = w11*x1 + w21*x2
    h2_in = w12*x1 + w22*x2
    h1_out, h2_out = sigmoid(h1_in), sigmoid(h2_in)

    y1_in = v11*h1_out + v21*h2_out
    y2_in = v12*h1_out + v22*h2_out
    y1_out, y2_out = sigmoid(y1_in), sigmoid(y2_in)

    # L = (y1 - t1)^2 + (y2 - t2)^2
    e1, e2 = (y1_out-t1), (y2_out-t2)
    grad_y1_out = 2*e1
    grad_y2_out = 2*e2

    # backprop through sigmoid, simply multiply by sigmoid(z) * (1-sigmoid(z))
    grad_y1_in = (y1_out * (1-y1_out)) * grad_y1_out
    grad_y2_in = (y2_out * (1-y2_out)) * grad_y2_out

    grad_v21 = grad_y1_in * h2_out
    grad_v22 = grad_y2_in * h2_out
    grad_v11 = grad_y1_in * h1_out
    grad_v12 = grad_y2_in * h1_out

    # each hidden unit's error: from the output it feeds
    grad_h1_out = grad_y1_in*v11
    grad_h2_out = grad_y2_in*v22

    # backprop through sigmoid, simply multiply by sigmoid(z) * (1-sigmoid(z))
    grad_h1_in = (h1_out * (1-h1_out)) * grad_h1_out
    grad_h2_in = (h2_out * (1-h2_out)) * grad_h2_out

    # get the gradients for the weights
    grad_w21 = grad_h1_in * x2
    grad_w22 = grad_h2_in * x2
    grad_w11 = grad_h1_in * x1
    grad_w12 = grad_h2_in * x1

    return [grad_w11, grad_w12, grad_w21, grad_w22, grad_v11, grad_v12, grad_v21, grad_v22]
