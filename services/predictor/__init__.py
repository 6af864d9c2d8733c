# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""host_predictor: per-VM quantile forecasts of resource demand (PyTorch, CPU)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type
