"""``menl``'s within-group error structures (``resvariance()``, ``rescorrelation()``,
``rescovariance()``) against R's nlme 3.1 (R 4.2.2): ``nlme::nlme`` for nonlinear models (ML)
and ``nlme::lme`` for models linear in everything (ML and REML, where menl's linearization is
exact and must reproduce lme).

Data: ``d <- read.csv("orange.csv"); d$tree <- factor(d$tree)``; ``p <- read.csv("pig.csv");
p$id <- factor(p$id); p$half <- ifelse(p$week > 4, 2, 1)``; ``p4 <- p[p$week <= 4, ]``.
Controls: ``nlmeControl(msTol=1e-12, tolerance=1e-10, pnlsTol=1e-10, msMaxIter=500,
maxIter=500, returnObject=TRUE)``, ``lmeControl(msTol=1e-12, tolerance=1e-12, msMaxIter=500,
maxIter=500)``. Orange model ``f0 <- circumf ~ b1/(1+exp(-(age-b2)/b3))``, ``fixed =
b1+b2+b3~1, random = b1~1|tree, start = c(b1=192, b2=728, b3=353)``; pig model ``fp <- weight
~ a*exp(r*week)``, ``fixed = a+r~1, start = c(a=20, r=0.14)``, random as noted. Numbers:
``logLik``, ``summary(fit)$tTable``, ``fit$sigma^2``, ``VarCorr``, ``coef(<struct>,
unconstrained=FALSE)``.

Stata's parameters and nlme's: power ``delta``/``_cons`` = varConstPower ``power``/``const``
(varPower ``power`` with noconstant); exponential ``gamma`` = varExp ``expon``;
``ratio(v=k)`` = varIdent's standard-deviation ratio; AR ``rho``/``phi#`` = corARMA ``Phi#``;
MA ``theta1`` = ``Theta1``; ctar1 ``rho`` = corCAR1 ``Phi``; toeplitz ``rho#`` = the
autocorrelations of corARMA(q=#) (``ARMAacf``); exchangeable ``rho`` = corCompSymm ``Rho``;
unstructured ``corr(e#,e#)`` = corSymm's correlations; ``rescovariance(unstructured)``'s
``var(e#)`` = ``sigma^2 * ratio^2`` and ``cov`` = correlation times the standard deviations.

Tolerances (issue 13): log likelihood 1e-6 relative, estimates 1e-5, standard errors 1e-3.
``EXACT`` lists the estimates of nonlinear fits compared to 1e-5 with nlme itself; for the
others nlme's last iterate stops short along a flat direction of the variance parameters (its
outer loop stops on the fixed effects), and they are compared with ``lme`` fitted to the
linearized model at menl's fixed point (pseudo-data ``w = y - f + X beta + Z b`` and the
derivatives X, Z written from menl's estimates), which reproduces menl's LME step.
"""
import warnings

import numpy as np
import pytest

import statsmodels_me.formula.api as smf
from statsmodels_me.datasets import load

LLF_REL, EST_REL, SE_REL = 1e-6, 1e-5, 1e-3

ORANGE = "menl circumf = ({b1}+{U1[tree]})/(1+exp(-(age-{b2})/{b3})), "
PIG_A = "menl weight = ({a}+{U[id]})*exp({r}*week), "
PIG_R = "menl weight = {a}*exp(({r}+{U[id]})*week), "
LINEAR = "menl weight = {b0}+{b1}*week+{U0[id]}, "
SLOPE = "menl weight = {b0}+{b1}*week+{U0[id]}+{U1[id]}*week, "


def _data(name):
    if name == "orange":
        return load("orange")
    p = load("pig")
    p["half"] = np.where(p["week"] > 4, 2, 1)
    if name == "pig3":
        # p3 <- p[p$week %in% c(1, 5, 9), ]; p3$occ <- (p3$week - 1) / 4 + 1
        # p3$x <- p3$week * (p3$id %% 3 + 1) / 5   (before p3$id <- factor(p3$id))
        p3 = p[p["week"].isin([1, 5, 9])].copy()
        p3["occ"] = (p3["week"] - 1) // 4 + 1
        p3["x"] = p3["week"] * (p3["id"] % 3 + 1) / 5
        return p3
    if name == "pig_tc":
        # p$tc <- 3 * sqrt(p$week)   (irregular continuous times for ctar1)
        return p.assign(tc=3 * np.sqrt(p["week"]))
    return p[p["week"] <= 4] if name == "pig4" else p


CASES = {
    # nlme(f0, ..., weights=varExp(form=~fitted(.)), method="ML")
    "exponential_yhat": dict(
        text=ORANGE + "resvariance(exponential _yhat)", data="orange", llf=-131.3536551574,
        coef={"/b1": (190.753915239, 16.1032636234), "/b2": (720.939191775, 36.7134847729),
              "/b3": (344.150893046, 26.3508626490)},
        est={"/var(U1[tree])": 964.8149575259, "/var(e)": 39.9369179125,
             "/Residual:gamma": 0.00191283884744}),
    # nlme(f0, ..., weights=varExp(form=~age), method="ML")
    "exponential_age": dict(
        text=ORANGE + "resvariance(exponential age)", data="orange", llf=-131.4395671926,
        coef={"/b1": (190.834436993, 16.1053579361), "/b2": (721.105532105, 36.3183409638),
              "/b3": (343.573422975, 26.2247798266)},
        est={"/var(U1[tree])": 967.2939088998, "/var(e)": 43.9550287688,
             "/Residual:gamma": 0.00018984334634}),
    # nlme(f0, ..., weights=varPower(form=~age), method="ML")
    "power_age_noconstant": dict(
        text=ORANGE + "resvariance(power age, noconstant)", data="orange",
        llf=-130.9241645114,
        coef={"/b1": (192.140078631, 16.0774577534), "/b2": (726.226621920, 38.1833842546),
              "/b3": (349.960233914, 24.2221059885)},
        # lme(w ~ 0 + X1 + X2 + X3, random=list(tree=pdIdent(~0+Z1)), weights=varPower(
        #     form=~age), method="ML", control=lmeControl(msTol=1e-14, tolerance=1e-14)) on
        # the linearized model at menl's estimates: logLik -130.9241647782
        est={"/var(U1[tree])": 954.386858936, "/var(e)": 2.92138247006,
             "/Residual:delta": 0.231521783245}),
    # nlme(fp, ..., random=a~1|id, weights=varConstPower(form=~week), method="ML")
    "power_week_constant": dict(
        text=PIG_A + "resvariance(power week)", data="pig", llf=-1085.931910295,
        coef={"/a": (28.272815144756, 0.367207027756919),
              "/r": (0.111170135555, 0.000942769486499)},
        est={"/var(U[id])": 4.6910496110, "/var(e)": 30.4564593127,
             "/Residual:delta": -2.131479290901, "/Residual:_cons": 0.332455944333}),
    # nlme(fp, ..., random=a~1|id, weights=varIdent(form=~1|half), method="ML")
    "distinct": dict(
        text=PIG_A + "resvariance(distinct, index(half))", data="pig", llf=-1136.601544483,
        coef={"/a": (27.130816127987, 0.37331746915995),
              "/r": (0.116647734627, 0.00114741940264)},
        est={"/var(U[id])": 4.24153132389, "/var(e)": 12.4128994679,
             "/Residual:ratio(half=2)": 0.667712425741}),
    # nlme(fp, ..., random=a~1|id, correlation=corAR1(form=~week|id), method="ML")
    "ar1": dict(
        text=PIG_A + "rescorrelation(ar 1, t(week))", data="pig", llf=-1005.924436463,
        coef={"/a": (26.267104233394, 0.61919164926140),
              "/r": (0.116938157556, 0.00230339490842)},
        # lme(w ~ 0 + X1 + X2, random=list(id=pdIdent(~0+Z1)), correlation=corAR1(form=
        #     ~week|id), method="ML", control=lmeControl(msTol=1e-14, tolerance=1e-14))
        # on the linearized model at menl's estimates: logLik -1005.924416206
        est={"/var(U[id])": 2.10384246801, "/var(e)": 21.4727508721,
             "/Residual:rho": 0.878508066002}),
    # nlme(fp, ..., random=a~1|id, correlation=corARMA(form=~week|id, p=2), method="ML")
    "ar2": dict(
        text=PIG_A + "rescorrelation(ar 2, t(week))", data="pig", llf=-959.8967296942,
        coef={"/a": (25.431058208194, 0.61336080196290),
              "/r": (0.119376237155, 0.00274106375946)},
        est={"/var(U[id])": 2.28995848103, "/var(e)": 23.5799407812,
             "/Residual:phi1": 1.366562496124, "/Residual:phi2": -0.542225423045}),
    # nlme(fp, ..., random=a~1|id, correlation=corARMA(form=~week|id, q=1), method="ML")
    "ma1": dict(
        text=PIG_A + "rescorrelation(ma 1, t(week))", data="pig", llf=-1043.220367045,
        coef={"/a": (26.119756691233, 0.38478121593551),
              "/r": (0.120494947962, 0.00139348952136)},
        est={"/var(U[id])": 3.80530033407, "/var(e)": 8.16100672704,
             "/Residual:theta1": 0.778850727564}),
    # nlme(fp, ..., random=a~1|id, correlation=corCAR1(form=~week|id), method="ML"): logLik
    # -1005.924443578, a 26.2670964515974 (0.6191895428052), r 0.1169381952566
    # (0.0023033897347); on integer times corCAR1 is corAR1, so the variance parameters are
    # compared with lme on the linearized model at menl's estimates of the "ar1" case
    # (corAR1 there; nlme stops short: var 2.10389031258, sigma2 21.47211630469, Phi
    # 0.878504137064)
    "ctar1_week": dict(
        text=PIG_A + "rescorrelation(ctar1, t(week))", data="pig", llf=-1005.924443578,
        coef={"/a": (26.2670964515974, 0.6191895428052),
              "/r": (0.1169381952566, 0.0023033897347)},
        est={"/var(U[id])": 2.10384246801, "/var(e)": 21.4727508721,
             "/Residual:rho": 0.878508066002}),
    # nlme(fp, data=p, ..., random=a~1|id, correlation=corCAR1(form=~tc|id), method="ML")
    # with p$tc <- 3 * sqrt(p$week): logLik -990.091334217, a 26.7254364185153
    # (0.635040209021380), r 0.1133357245313 (0.002145423287296), var 2.237117921935,
    # sigma2 23.89320702237, Phi 0.8651949844337 (stopping short: sigma2 1.5e-5 away);
    # lme(w ~ 0 + X1 + X2, random=list(id=pdIdent(~0+Z1)), correlation=corCAR1(form=~tc|id),
    #     method="ML", control=lmeControl(msTol=1e-14, tolerance=1e-14)) on the linearized
    # model at menl's estimates: logLik -990.0913501186, sigma2 23.89294722298, var
    # 2.237128304155, Phi 0.8651933799989
    "ctar1_continuous": dict(
        text=PIG_A + "rescorrelation(ctar1, t(tc))", data="pig_tc", llf=-990.091334217,
        coef={"/a": (26.7254364185153, 0.635040209021380),
              "/r": (0.1133357245313, 0.002145423287296)},
        est={"/var(U[id])": 2.237128304155, "/var(e)": 23.89294722298,
             "/Residual:rho": 0.8651933799989}),
    # nlme(fp, ..., random=a~1|id, correlation=corARMA(form=~week|id, q=2), method="ML"):
    # the toeplitz correlations at lags 1 and 2 are those of the MA(2), ARMAacf(ma=c(
    # 1.0297843158700, 0.5707104508537), lag.max=2); var: as.matrix(reStruct) * sigma^2
    "toeplitz2": dict(
        text=PIG_A + "rescorrelation(toeplitz 2, t(week))", data="pig", llf=-1001.024716914,
        coef={"/a": (25.9440445820972, 0.421117405214769),
              "/r": (0.1203868135195, 0.001671169757883)},
        est={"/var(U[id])": 3.484398591639, "/var(e)": 10.0433737852,
             "/Residual:rho1": 0.6778626807046, "/Residual:rho2": 0.2391746481847}),
    # the "ma1" case's nlme fit (corARMA q=1): the toeplitz correlation at lag 1 is
    # theta1 / (1 + theta1^2) with theta1 = 0.778850727564
    "toeplitz1": dict(
        text=PIG_A + "rescorrelation(toeplitz 1, t(week))", data="pig", llf=-1043.220367045,
        coef={"/a": (26.119756691233, 0.38478121593551),
              "/r": (0.120494947962, 0.00139348952136)},
        est={"/var(U[id])": 3.80530033407, "/var(e)": 8.16100672704,
             "/Residual:rho1": 0.778850727564 / (1 + 0.778850727564 ** 2)}),
    # nlme(fp, ..., random=a~1|id, correlation=corCompSymm(form=~1|id), method="ML")
    "exchangeable": dict(
        text=PIG_A + "rescorrelation(exchangeable)", data="pig", llf=-1142.830492936,
        coef={"/a": (26.383461481227, 0.39042726771865),
              "/r": (0.120813046562, 0.00123097109807)},
        # lme(w ~ 0 + X1 + X2, random=list(id=pdIdent(~0+Z1)), correlation=corCompSymm(
        #     form=~1|id), method="ML", ...) on the linearized model at menl's estimates:
        # logLik -1142.830503094
        est={"/var(U[id])": 3.64557833383, "/var(e)": 10.3254800102,
             "/Residual:rho": 0.204175219687}),
    # nlme(fp, ..., random=r~1|id, correlation=corCompSymm(form=~1|id), method="ML")
    "exchangeable_rate": dict(
        text=PIG_R + "rescovariance(exchangeable)", data="pig", llf=-1144.939927171,
        coef={"/a": (27.194182863010, 0.43066384087833),
              "/r": (0.118362233416, 0.00174661782084)},
        est={"/var(U[id])": 4.41834015775e-05, "/var(e)": 16.6406021009,
             "/Residual:rho": 0.537493560988}),
    # lme(weight ~ week, random=~1|id, data=p, weights=varFixed(~week), method="ML")
    "linear_ml": dict(
        text=LINEAR + "resvariance(linear week)", data="pig", llf=-1022.696740035,
        coef={"/b0": (19.06605524489, 0.4668615620154), "/b1": (6.26780746954, 0.0379611658136)},
        est={"/var(U0[id])": 9.31844097731, "/var(e)": 1.12691573998}),
    # lme(weight ~ week, random=~1|id, data=p, weights=varFixed(~week), method="REML")
    "linear_reml": dict(
        text=LINEAR + "resvariance(linear week) reml", data="pig", llf=-1024.925151125,
        coef={"/b0": (19.06605524489, 0.4704207023372), "/b1": (6.26780746954, 0.0379226013858)},
        est={"/var(U0[id])": 9.52414108278, "/var(e)": 1.12985807907}),
    # lme(weight ~ week, random=list(id=pdDiag(~week)), data=p,
    #     correlation=corAR1(form=~week|id), method="ML")
    "ar1_slope_ml": dict(
        text=SLOPE + "rescorrelation(ar 1, t(week))", data="pig", llf=-821.078556122,
        coef={"/b0": (18.97266191753, 0.392958918860), "/b1": (6.26160105459, 0.101274584175)},
        est={"/var(U0[id])": 2.068960772947, "/var(U1[id])": 0.368143907441,
             "/var(e)": 4.53403529612, "/Residual:rho": 0.776806613589}),
    # the same, method="REML"
    "ar1_slope_reml": dict(
        text=SLOPE + "rescorrelation(ar 1, t(week)) reml", data="pig", llf=-822.5138650829,
        coef={"/b0": (18.96944997512, 0.395510886422), "/b1": (6.26192911213, 0.102041748094)},
        est={"/var(U0[id])": 2.09574756079, "/var(U1[id])": 0.37633946383,
             "/var(e)": 4.61870440485, "/Residual:rho": 0.780660986566}),
    # lme(weight ~ week, random=~1|id, data=p, correlation=corARMA(form=~week|id, q=1),
    #     method="REML")
    "ma1_reml": dict(
        text=LINEAR + "rescorrelation(ma 1, t(week)) reml", data="pig", llf=-922.0741386153,
        coef={"/b0": (19.32698587336, 0.6186646336395), "/b1": (6.20681599824, 0.0462616495494)},
        est={"/var(U0[id])": 14.99022868266, "/var(e)": 4.12785864012,
             "/Residual:theta1": 0.693787608523}),
    # lme(weight ~ week, random=~1|id, data=p, weights=varExp(form=~week), method="REML")
    "exponential_reml": dict(
        text=LINEAR + "resvariance(exponential week) reml", data="pig", llf=-1003.832904444,
        coef={"/b0": (19.22716921096, 0.5041151372956), "/b1": (6.24068372383, 0.0387579353909)},
        est={"/var(U0[id])": 10.86341706963, "/var(e)": 1.37587521276,
             "/Residual:gamma": 0.111335855155}),
    # lme(weight ~ week, random=~1|id, data=p, weights=varIdent(form=~1|half),
    #     method="REML")
    "distinct_reml": dict(
        text=LINEAR + "rescovariance(distinct, index(half)) reml", data="pig",
        llf=-1008.872996234,
        coef={"/b0": (19.34601627731, 0.5125974414702), "/b1": (6.23133141009, 0.0389597804684)},
        est={"/var(U0[id])": 11.21487144675, "/var(e)": 2.16284607154,
             "/Residual:ratio(half=2)": 1.8453466692}),
    # lme(weight ~ week, random=list(id=pdIdent(~0+x)), data=p3, correlation=corSymm(
    #     form=~occ|id), weights=varIdent(form=~1|occ), method="ML",
    #     control=lmeControl(msTol=1e-14, tolerance=1e-14, msMaxIter=1000, maxIter=1000))
    # sigma^2 5.87507493266, ratios 1.74980213764 2.36417071132, correlations 0.755579488565
    # 0.559305982739 0.755858043611: var(e#) = sigma^2 ratio^2, cov = corr sd sd
    "unstructured_covariance_ml": dict(
        text="menl weight = {b0}+{b1}*week+{U[id]}*x, rescovariance(unstructured, index(occ))",
        data="pig3", llf=-364.1076233499,
        coef={"/b0": (18.737300551, 0.3392915449769), "/b1": (6.256709988, 0.0929847790894)},
        est={"/var(U[id])": 0.418750771916, "/Residual:var(e1)": 5.87507493266,
             "/Residual:var(e2)": 17.988348614607837, "/Residual:var(e3)": 32.83757484089971,
             "/Residual:cov(e1,e2)": 7.7675223695209725,
             "/Residual:cov(e1,e3)": 7.768581168531756,
             "/Residual:cov(e2,e3)": 18.370518940837016}),
    # the same, method="REML": sigma^2 5.99782634093, ratios 1.74696897986 2.36708791362,
    # correlations 0.755923046073 0.560068614338 0.759937407958
    "unstructured_covariance_reml": dict(
        text="menl weight = {b0}+{b1}*week+{U[id]}*x, rescovariance(unstructured, "
             "index(occ)) reml",
        data="pig3", llf=-365.7297327364,
        coef={"/b0": (18.73730048577, 0.3404920602646),
              "/b1": (6.25699200519, 0.0933252266972)},
        est={"/var(U[id])": 0.421505051516, "/Residual:var(e1)": 5.99782634093,
             "/Residual:var(e2)": 18.30476990810254, "/Residual:var(e3)": 33.60645190441714,
             "/Residual:cov(e1,e2)": 7.920574198007305,
             "/Residual:cov(e1,e3)": 7.951508198163664,
             "/Residual:cov(e2,e3)": 18.848261207525493}),
}


def _check(res, ref):
    assert abs(res.llf - ref["llf"]) <= LLF_REL * abs(ref["llf"]), (res.llf, ref["llf"])
    for name, (b, se) in ref["coef"].items():
        assert abs(res.params[name] - b) <= EST_REL * abs(b), (name, res.params[name], b)
        assert abs(res.bse[name] - se) <= SE_REL * se, (name, res.bse[name], se)
    for name, v in ref["est"].items():
        assert abs(res.params[name] - v) <= EST_REL * abs(v), (name, res.params[name], v)


@pytest.mark.parametrize("case", sorted(CASES))
def test_against_nlme(case):
    ref = CASES[case]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = smf.menl(ref["text"], data=_data(ref["data"])).fit()
    _check(res, ref)
    expected = {"/Residual:" + n.split(":", 1)[1] for n in ref["est"] if "Residual" in n}
    assert {n for n in res.params.index if n.startswith("/Residual")} == expected


def test_power_with_constant_at_its_bound():
    # nlme(f0, ..., weights=varConstPower(form=~fitted(.)), method="ML"): logLik
    # -131.038110203, b1 191.878919266 (16.1260783266), b2 725.265995410 (38.3445285059),
    # b3 349.844798995 (25.4529310792), var(b1) 957.09278459282, sigma2 5.38721506131,
    # power 0.265708631332, const 3.44092512460e-07: the constant goes to its bound 0, where
    # the model is resvariance(power _yhat, noconstant) (test_menl_nlme: sigma2 5.386664183,
    # delta 0.2657199565 at menl's fixed point)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = smf.menl(ORANGE + "resvariance(power _yhat)", data=load("orange")).fit()
    assert abs(res.llf - -131.038110203) <= LLF_REL * 131.038110203
    for name, b, se in [("/b1", 191.878919266, 16.1260783266),
                        ("/b2", 725.265995410, 38.3445285059),
                        ("/b3", 349.844798995, 25.4529310792)]:
        assert abs(res.params[name] - b) <= EST_REL * b, (name, res.params[name])
        assert abs(res.bse[name] - se) <= SE_REL * se, (name, res.bse[name])
    assert res.params["/Residual:_cons"] == 0.0
    assert abs(res.params["/var(e)"] - 5.386664183) <= EST_REL * 5.386664183
    assert abs(res.params["/Residual:delta"] - 0.2657199565) <= EST_REL * 0.2657199565


def test_unstructured_correlation():
    # nlme(fp, data=p4, ..., random=a~1|id, correlation=corSymm(form=~week|id), method="ML"):
    # logLik -389.0276517791, a 21.843300298795 (0.34904189551393), r 0.180235852158
    # (0.00248230128124), var(a) 2.84572219318, sigma2 4.79268889705, correlations
    # 0.665031225603 0.229499378666 0.672673540788 0.764110348904 0.716942066353
    # 0.552454434216. The variance parameters lie on a flat ridge along which nlme (and lme
    # refitted to menl's linearized model: logLik -389.0276001171, sigma2 4.7926082034,
    # var 2.84574543413, correlations 0.665024151932 0.22948171089 0.672664114431
    # 0.76410619356 0.716940436922 0.552446121007) stop about 3e-5 apart; menl's log
    # likelihood is the highest of the three, and its variance parameters are compared with
    # lme's to 1e-4
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = smf.menl(PIG_A + "rescorrelation(unstructured, index(week))",
                       data=_data("pig4")).fit()
    assert abs(res.llf - -389.0276517791) <= LLF_REL * 389.0276517791
    assert res.llf >= -389.0276001171 - 1e-9 * 389
    for name, b, se in [("/a", 21.843300298795, 0.34904189551393),
                        ("/r", 0.180235852158, 0.00248230128124)]:
        assert abs(res.params[name] - b) <= EST_REL * b, (name, res.params[name])
        assert abs(res.bse[name] - se) <= SE_REL * se, (name, res.bse[name])
    ridge = {"/var(U[id])": 2.84574543413, "/var(e)": 4.7926082034,
             "/Residual:corr(e1,e2)": 0.665024151932, "/Residual:corr(e1,e3)": 0.22948171089,
             "/Residual:corr(e1,e4)": 0.672664114431, "/Residual:corr(e2,e3)": 0.76410619356,
             "/Residual:corr(e2,e4)": 0.716940436922, "/Residual:corr(e3,e4)": 0.552446121007}
    assert list(res.params.index[2:]) == list(ridge)
    for name, v in ridge.items():
        assert abs(res.params[name] - v) <= 1e-4 * abs(v), (name, res.params[name], v)
