/* doseresponse physician report: the in-page lookup (no network, no dependencies).
 *
 * Reads the posterior draws embedded in <script type="application/json" id="report-draws">
 * and computes, at a dose typed by the reader, the response probability of every embedded draw
 * for the typical centre and for a new centre (population-averaged view: the new-centre effect
 * integrated out per draw by the same Gauss-Hermite rule as doseresponse.models.predictive, its
 * nodes and weights embedded from numpy). Reported: the mean over draws (the posterior
 * predictive risk), the per-draw median and the equal-tailed interval (numpy's default linear
 * quantiles).
 *
 * The five curve families follow doseresponse/models/_curve_kernel.py, with eta = ln D50,
 * g = exp(lambda) the slope, r = D / D50 and doses clamped below at 1e-300 inside logarithms:
 *   logistic      P = 1 / (1 + exp(-4 g (r - 1)))
 *   log-logistic  P = 1 / (1 + exp(-4 g (ln D - eta)))
 *   probit (LKB)  P = Phi((r - 1) / m)
 *   cloglog       P = 1 - exp(-H), H = ln2 exp(k (ln D - eta)), k = 2 g / ln2
 *   poisson       P = exp(-H),     H = ln2 exp(-k (r - 1)),     k = 2 g / ln2
 *
 * A model average (a model with "members") mixes its members as
 * doseresponse.models.averaging.ModelAverage does: the predictive risk is sum_k w_k mean_k with
 * the exact weights w_k and mean_k the mean over member k's embedded draws; the median and the
 * interval are quantiles of the pooled draws of the members that have a share of the mixture
 * (the draws were allocated to the members by weight when the page was written).
 *
 * Test mode: a URL hash "#selftest=20,23,30" writes every lookup result at those doses (each
 * model, both views, no covariate and each covariate = 1 alone) as JSON into <pre id="selftest">;
 * "&activity=A,k,N,ab,trep,teff" adds the course dose of each metric kind from activity A GBq
 * per cycle, k Gy/GBq, N cycles, alpha/beta ab Gy, repair half-time trep h, half-life teff h.
 */
"use strict";
(function () {
  var LN2 = Math.LN2;
  var TINY_DOSE = 1e-300;

  /* Standard normal CDF to double precision: Hart (1968) algorithm 5666 as given by
   * West G (2005) "Better approximations to cumulative normal functions" Wilmott Mag 9:70. */
  function normCdf(x) {
    var a = Math.abs(x);
    var c;
    if (a > 37) {
      c = 0;
    } else {
      var e = Math.exp(-a * a / 2);
      if (a < 7.07106781186547) {
        var num = 3.52624965998911e-02 * a + 0.700383064443688;
        num = num * a + 6.37396220353165;
        num = num * a + 33.912866078383;
        num = num * a + 112.079291497871;
        num = num * a + 221.213596169931;
        num = num * a + 220.206867912376;
        var den = 8.83883476483184e-02 * a + 1.75566716318264;
        den = den * a + 16.064177579207;
        den = den * a + 86.7807322029461;
        den = den * a + 296.564248779674;
        den = den * a + 637.333633378831;
        den = den * a + 793.826512519948;
        den = den * a + 440.413735824752;
        c = e * num / den;
      } else {
        var b = a + 0.65;
        b = a + 4 / b;
        b = a + 3 / b;
        b = a + 2 / b;
        b = a + 1 / b;
        c = e / b / 2.506628274631;
      }
    }
    return x > 0 ? 1 - c : c;
  }

  function logistic(x) {
    if (x >= 0) {
      return 1 / (1 + Math.exp(-x));
    }
    var e = Math.exp(x);
    return e / (1 + e);
  }

  /* Response probability of one curve: family code (FAMILY_CODES), dose, eta = ln D50,
   * lam = ln slope. */
  function probability(code, dose, eta, lam) {
    var logDose = Math.log(Math.max(dose, TINY_DOSE));
    var g = Math.exp(lam);
    var k;
    switch (code) {
      case 0:
        return logistic(4 * g * (dose * Math.exp(-eta) - 1));
      case 1:
        return logistic(4 * g * (logDose - eta));
      case 2:
        return normCdf((dose * Math.exp(-eta) - 1) / g);
      case 3:
        k = (2 / LN2) * g;
        return -Math.expm1(-LN2 * Math.exp(k * (logDose - eta)));
      case 4:
        k = (2 / LN2) * g;
        return Math.exp(-LN2 * Math.exp(-k * (dose * Math.exp(-eta) - 1)));
      default:
        throw new Error("unknown curve family code " + code);
    }
  }

  /* Per-draw probabilities at one dose; view "population" or "new_study" (averaged). */
  function drawProbabilities(model, dose, view, cov) {
    var n = model.n_draws;
    var out = new Float64Array(n);
    var names = model.covariates;
    for (var i = 0; i < n; i++) {
      var eta = model.log_d50[i];
      var shift = 0;
      var any = false;
      for (var c = 0; c < names.length; c++) {
        var x = cov[names[c]] || 0;
        if (x !== 0) {
          shift += model.log_factor[i][c] * x;
          any = true;
        }
      }
      if (any) {
        eta += shift;
      }
      var lam = model.log_slope[i];
      if (view === "population" || model.tau === null) {
        out[i] = probability(model.family_code, dose, eta, lam);
        continue;
      }
      var tau = model.tau[i];
      var total = 0;
      var j;
      if (model.tau_slope !== null) {
        var gh2 = model.quadrature_2d;
        var ts = model.tau_slope[i];
        for (j = 0; j < gh2.nodes.length; j++) {
          for (var l = 0; l < gh2.nodes.length; l++) {
            total += gh2.weights[j] * gh2.weights[l] * probability(
              model.family_code, dose, eta + tau * gh2.nodes[j], lam + ts * gh2.nodes[l]);
          }
        }
      } else {
        var gh = model.quadrature;
        for (j = 0; j < gh.nodes.length; j++) {
          total += gh.weights[j] * probability(model.family_code, dose, eta + tau * gh.nodes[j], lam);
        }
      }
      out[i] = total;
    }
    if (model.background) {  /* total risk b + (1 - b) F with a background risk */
      for (var k = 0; k < n; k++) {
        out[k] = model.background[k] + (1 - model.background[k]) * out[k];
      }
    }
    return out;
  }

  /* numpy.quantile's default ("linear") method on a sorted array. */
  function quantileSorted(sorted, q) {
    var h = (sorted.length - 1) * q;
    var lo = Math.floor(h);
    var hi = Math.min(lo + 1, sorted.length - 1);
    return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
  }

  function summarise(values, ciProb) {
    var n = values.length;
    var sum = 0;
    for (var i = 0; i < n; i++) {
      sum += values[i];
    }
    var sorted = Float64Array.from(values).sort();
    return {
      mean: sum / n,
      median: quantileSorted(sorted, 0.5),
      lower: quantileSorted(sorted, (1 - ciProb) / 2),
      upper: quantileSorted(sorted, (1 + ciProb) / 2)
    };
  }

  /* Mixture of a model average's members (see the header). */
  function lookupAverage(model, dose, view, cov) {
    var mean = 0;
    var pooled = [];
    model.members.forEach(function (member) {
      var p = drawProbabilities(member, dose, view, cov);
      var sum = 0;
      for (var i = 0; i < p.length; i++) {
        sum += p[i];
        if (member.in_mixture) {
          pooled.push(p[i]);
        }
      }
      mean += member.weight * (sum / p.length);
    });
    var summary = summarise(pooled, model.ci_prob);
    summary.mean = mean;
    return summary;
  }

  function lookup(model, dose, view, cov) {
    if (model.members) {
      return lookupAverage(model, dose, view, cov);
    }
    return summarise(drawProbabilities(model, dose, view, cov), model.ci_prob);
  }

  /* Course dose in the model's metric from activity per cycle (GBq), absorbed dose per unit
   * activity (Gy/GBq) and cycles; BED by Dale (1985) for mono-exponential clearance,
   * G = T_rep / (T_rep + T_eff) per cycle, and EQD2 = BED / (1 + 2 / (alpha/beta)). */
  function courseDose(metricKind, activity, gyPerGbq, cycles, alphaBeta, repair, halfLife) {
    var perCycle = activity * gyPerGbq;
    if (metricKind === "dose") {
      return cycles * perCycle;
    }
    var g = repair / (repair + halfLife);
    var bed = cycles * perCycle * (1 + g * perCycle / alphaBeta);
    return metricKind === "EQD2" ? bed / (1 + 2 / alphaBeta) : bed;
  }

  function percent(p) {
    return (100 * p).toFixed(1) + " %";
  }

  function numberOf(input) {
    var v = parseFloat(input.value);
    return isFinite(v) ? v : NaN;
  }

  function covariatesOf(panel, model) {
    var cov = {};
    model.covariates.forEach(function (name) {
      var box = panel.querySelector('[data-covariate="' + name + '"]');
      cov[name] = box && box.checked ? 1 : 0;
    });
    return cov;
  }

  function update(panel, model) {
    var out = panel.querySelector(".lookup-result");
    var mode = panel.querySelector('input[name="mode-' + model.id + '"]:checked').value;
    var dose;
    if (mode === "dose") {
      dose = numberOf(panel.querySelector(".in-dose"));
    } else {
      dose = courseDose(
        model.metric_kind,
        numberOf(panel.querySelector(".in-activity")),
        numberOf(panel.querySelector(".in-gygbq")),
        numberOf(panel.querySelector(".in-cycles")),
        numberOf(panel.querySelector(".in-ab")),
        numberOf(panel.querySelector(".in-trep")),
        numberOf(panel.querySelector(".in-teff"))
      );
    }
    if (!isFinite(dose) || dose < 0) {
      out.textContent = "Enter a dose of 0 or more (and positive activity parameters).";
      return;
    }
    var cov = covariatesOf(panel, model);
    var ci = Math.round(100 * model.ci_prob) + " %";
    var rows = [["typical centre", "population"], ["new centre (population-averaged)", "new_study"]];
    var html = "<p>" + model.metric + " = <b>" + dose.toFixed(2) + " " + model.unit + "</b></p>";
    html += "<table><thead><tr><th>centre</th><th>" + model.kind +
      (model.members ? " (predictive risk of the model average)" : " (predictive risk)") +
      "</th><th>median over draws</th><th>" + ci +
      " interval</th></tr></thead><tbody>";
    rows.forEach(function (row) {
      if (row[1] === "population" && !model.has_population) {
        return;
      }
      var s = lookup(model, dose, row[1], cov);
      html += "<tr><td>" + row[0] + "</td><td><b>" + percent(s.mean) + "</b></td><td>" +
        percent(s.median) + "</td><td>" + percent(s.lower) + " to " + percent(s.upper) +
        "</td></tr>";
    });
    html += "</tbody></table>";
    out.innerHTML = html;
  }

  function selftest(models, doses, activity) {
    var result = {};
    models.forEach(function (model) {
      var settings = [["", {}]];
      model.covariates.forEach(function (name) {
        var cov = {};
        cov[name] = 1;
        settings.push([name + "=1", cov]);
      });
      var views = model.has_population ? ["population", "new_study"] : ["new_study"];
      var perModel = {};
      views.forEach(function (view) {
        perModel[view] = {};
        settings.forEach(function (setting) {
          perModel[view][setting[0]] = doses.map(function (d) {
            return lookup(model, d, view, setting[1]);
          });
        });
      });
      result[model.id] = perModel;
    });
    var course = null;
    if (activity) {  /* activity, Gy/GBq, cycles, alpha/beta, T_rep, T_eff */
      course = {};
      ["dose", "BED", "EQD2"].forEach(function (kind) {
        course[kind] = courseDose(kind, activity[0], activity[1], activity[2], activity[3],
                                  activity[4], activity[5]);
      });
    }
    var pre = document.getElementById("selftest");
    pre.textContent = JSON.stringify({doses: doses, models: result, course_dose: course});
    pre.hidden = false;
  }

  function start() {
    var models = JSON.parse(document.getElementById("report-draws").textContent).models;
    models.forEach(function (model) {
      var panel = document.getElementById("lookup-" + model.id);
      if (!panel) {
        return;
      }
      panel.addEventListener("input", function () { update(panel, model); });
      panel.addEventListener("change", function () { update(panel, model); });
      update(panel, model);
    });
    var match = /selftest=([0-9.,eE+-]+)/.exec(window.location.hash);
    var act = /activity=([0-9.,eE+-]+)/.exec(window.location.hash);
    if (match) {
      selftest(models, match[1].split(",").map(parseFloat),
               act ? act[1].split(",").map(parseFloat) : null);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
