# Inception-v3 as torchvision writes it (torchvision.models.inception_v3,
# aux_logits=False, transform_input=False), three input channels, 1000
# classes, 299 x 299: rectangular 1x7 / 7x1 and 1x3 / 3x1 kernels written as
# tuples, Inception blocks A to E as concats (E's branches split once more),
# average pools with count_include_pad.
#
# Every convolution is torchvision's BasicConv2d: conv without bias,
# BatchNorm2d(eps=0.001), ReLU. The `as` names are torchvision's attribute
# names, so dlm's parameter names are torchvision's state_dict keys
# (Mixed_6b.branch7x7_2.conv.weight, ...; scripts/torchvision_reference.py
# inception_v3 checks that the mapping is the identity).
#
# Sizes at 299: 149, 147, 147, pool 73, 73, 71, pool 35, Mixed_5: 35,
# Mixed_6: 17, Mixed_7: 8, average pool, dropout 0.5, fc. Any input of at
# least 75 x 75 works.

block basic(out, kernel=1, stride=1, padding=0) {
    conv(out, kernel=kernel, stride=stride, padding=padding, bias=false)
        as conv
    batchnorm(eps=0.001) as bn
    relu
}

block inception_a(pool_features) {
    concat {
        branch {
            basic(64) as branch1x1
        }
        branch {
            basic(48) as branch5x5_1
            basic(64, kernel=5, padding=2) as branch5x5_2
        }
        branch {
            basic(64) as branch3x3dbl_1
            basic(96, kernel=3, padding=1) as branch3x3dbl_2
            basic(96, kernel=3, padding=1) as branch3x3dbl_3
        }
        branch {
            avgpool(3, stride=1, padding=1)
            basic(pool_features) as branch_pool
        }
    }
}

block inception_b() {
    concat {
        branch {
            basic(384, kernel=3, stride=2) as branch3x3
        }
        branch {
            basic(64) as branch3x3dbl_1
            basic(96, kernel=3, padding=1) as branch3x3dbl_2
            basic(96, kernel=3, stride=2) as branch3x3dbl_3
        }
        branch {
            maxpool(3, stride=2)
        }
    }
}

block inception_c(c7) {
    concat {
        branch {
            basic(192) as branch1x1
        }
        branch {
            basic(c7) as branch7x7_1
            basic(c7, kernel=(1, 7), padding=(0, 3)) as branch7x7_2
            basic(192, kernel=(7, 1), padding=(3, 0)) as branch7x7_3
        }
        branch {
            basic(c7) as branch7x7dbl_1
            basic(c7, kernel=(7, 1), padding=(3, 0)) as branch7x7dbl_2
            basic(c7, kernel=(1, 7), padding=(0, 3)) as branch7x7dbl_3
            basic(c7, kernel=(7, 1), padding=(3, 0)) as branch7x7dbl_4
            basic(192, kernel=(1, 7), padding=(0, 3)) as branch7x7dbl_5
        }
        branch {
            avgpool(3, stride=1, padding=1)
            basic(192) as branch_pool
        }
    }
}

block inception_d() {
    concat {
        branch {
            basic(192) as branch3x3_1
            basic(320, kernel=3, stride=2) as branch3x3_2
        }
        branch {
            basic(192) as branch7x7x3_1
            basic(192, kernel=(1, 7), padding=(0, 3)) as branch7x7x3_2
            basic(192, kernel=(7, 1), padding=(3, 0)) as branch7x7x3_3
            basic(192, kernel=3, stride=2) as branch7x7x3_4
        }
        branch {
            maxpool(3, stride=2)
        }
    }
}

block inception_e() {
    concat {
        branch {
            basic(320) as branch1x1
        }
        branch {
            basic(384) as branch3x3_1
            concat {
                branch {
                    basic(384, kernel=(1, 3), padding=(0, 1)) as branch3x3_2a
                }
                branch {
                    basic(384, kernel=(3, 1), padding=(1, 0)) as branch3x3_2b
                }
            }
        }
        branch {
            basic(448) as branch3x3dbl_1
            basic(384, kernel=3, padding=1) as branch3x3dbl_2
            concat {
                branch {
                    basic(384, kernel=(1, 3), padding=(0, 1)) as branch3x3dbl_3a
                }
                branch {
                    basic(384, kernel=(3, 1), padding=(1, 0)) as branch3x3dbl_3b
                }
            }
        }
        branch {
            avgpool(3, stride=1, padding=1)
            basic(192) as branch_pool
        }
    }
}

model inception_v3(x: f32[1, 3, 299, 299]) {
    basic(32, kernel=3, stride=2) as Conv2d_1a_3x3
    basic(32, kernel=3) as Conv2d_2a_3x3
    basic(64, kernel=3, padding=1) as Conv2d_2b_3x3
    maxpool(3, stride=2)
    basic(80) as Conv2d_3b_1x1
    basic(192, kernel=3) as Conv2d_4a_3x3
    maxpool(3, stride=2)
    inception_a(32) as Mixed_5b
    inception_a(64) as Mixed_5c
    inception_a(64) as Mixed_5d
    inception_b as Mixed_6a
    inception_c(128) as Mixed_6b
    inception_c(160) as Mixed_6c
    inception_c(160) as Mixed_6d
    inception_c(192) as Mixed_6e
    inception_d as Mixed_7a
    inception_e as Mixed_7b
    inception_e as Mixed_7c
    global_avgpool
    dropout(0.5)
    flatten
    linear(1000) as fc
}
