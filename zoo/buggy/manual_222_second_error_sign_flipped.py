"""Buggy: the second output's error has the wrong sign: ``e2 = t2 - y2_out``.

The student wrote ``e1, e2 = (y1_out-t1), (t2-y2_out)``: one error as output minus
target, the other as target minus output. d(y2 - t2)^2/dy2 = 2 (y2 - t2). The gradients
reaching the loss through y2 are negated: v12 and v22 have the wrong sign and the
first-layer weights get y2's contribution with the wrong sign added to y1's. Where y1
already equals t1 the whole gradient is exactly sign-flipped, like the classic (t - y)
error; where y2 = t2 nothing is wrong.
"""
import numpy as np

ZOO = {'system': 'manual_222',
       'mistake': 'error of the second output taken as t2 - y2 (sign flipped on one output)',
       'fails': ['oracles', 'worked examples'],
       'diagnosis': None,
       'truth': {'wrong': ['w11', 'w12', 'w21', 'w22', 'v12', 'v22'],
                 'layer': 2,
                 'op': None,
                 'operand': None,
                 'pattern': "sign flipped on the second output's error only",
                 'looks_like': 'sign flipped (where the first output is already on its target)'}}


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
    e1, e2 = (y1_out-t1), (t2-y2_out)
    grad_y1_out = 2*e1
    grad_y2_out = 2*e2

    # backprop through sigmoid, simply multiply by sigmoid(z) * (1-sigmoid(z))
    grad_y1_in = (y1_out * (1-y1_out)) * grad_y1_out
    grad_y2_in = (y2_out * (1-y2_out)) * grad_y2_out

    grad_v21 = grad_y1_in * h2_out
    grad_v22 = grad_y2_in * h2_out
    grad_v11 = grad_y1_in * h1_out
    grad_v12 = grad_y2_in * h1_out

    # h1 and h2 each reach the loss on two paths: sum them up
    grad_h1_out = grad_y1_in*v11 + grad_y2_in*v12
    grad_h2_out = grad_y1_in*v21 + grad_y2_in*v22

    # backprop through sigmoid, simply multiply by sigmoid(z) * (1-sigmoid(z))
    grad_h1_in = (h1_out * (1-h1_out)) * grad_h1_out
    grad_h2_in = (h2_out * (1-h2_out)) * grad_h2_out

    # get the gradients for the weights
    grad_w21 = grad_h1_in * x2
    grad_w22 = grad_h2_in * x2
    grad_w11 = grad_h1_in * x1
    grad_w12 = grad_h2_in * x1

    return [grad_w11, grad_w12, grad_w21, grad_w22, grad_v11, grad_v12, grad_v21, grad_v22]
