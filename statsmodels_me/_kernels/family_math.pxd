# cython: language_level=3
"""Conditional log densities of the GLMM families and their eta-derivatives, callable without the GIL.

Every function is ``cdef inline ... noexcept nogil`` so kernels can evaluate the response model at
quadrature nodes inside ``prange``.  Families and links are the ``FAM_*`` and ``LINK_*``
constants of ``kernel_codes.pxd``, generated from ``statsmodels_me._kernels.codes``.

``fam_eval`` returns the *variable part* of log f(y | eta): the terms that do not depend on eta are
computed once per observation on the Python side (``statsmodels_me.families.obs_constant``) so
the kernels never evaluate ``lgamma(y + 1)`` at every node.  The correspondence with
statsmodels' link objects: identity <-> ``links.Identity``, log <-> ``links.Log``, logit <->
``links.Logit``, probit <-> ``links.Probit``, cloglog <-> ``links.CLogLog`` (mu = g^{-1}(eta)).
"""
from libc.math cimport INFINITY, erfc, exp, expm1, fabs, log, log1p, sqrt

from statsmodels_me._kernels.kernel_codes cimport (
    FAM_BERNOULLI,
    FAM_BINOMIAL,
    FAM_CENSORED_NORMAL,
    FAM_EXPONENTIAL_AFT,
    FAM_EXPONENTIAL_PH,
    FAM_GAMMA,
    FAM_GAUSSIAN,
    FAM_GGAMMA_AFT,
    FAM_GOMPERTZ_PH,
    FAM_LOGLOGISTIC_AFT,
    FAM_LOGNORMAL_AFT,
    FAM_NBINOMIAL_CONSTANT,
    FAM_NBINOMIAL_MEAN,
    FAM_ORDINAL,
    FAM_POISSON,
    FAM_WEIBULL_AFT,
    FAM_WEIBULL_PH,
    LINK_CLOGLOG,
    LINK_LOG,
    LINK_LOGIT,
    LINK_PROBIT,
)

cdef extern from "math.h" nogil:
    double lgamma_r(double x, int* sign)



cdef inline double logistic_tail(double eta, double* e) noexcept nogil:
    """The logistic function 1 / (1 + exp(-eta)) from e = exp(-|eta|) (stored in ``e``),
    without overflow for any eta."""
    e[0] = exp(-fabs(eta))
    return 1.0 / (1.0 + e[0]) if eta >= 0 else e[0] / (1.0 + e[0])


cdef inline double log1pexp(double x) noexcept nogil:
    """log(1 + exp(x)) without overflow."""
    if x > 0:
        return x + log1p(exp(-x))
    return log1p(exp(x))


cdef inline double log_ndtr(double x) noexcept nogil:
    """log Phi(x), accurate in both tails."""
    cdef double z
    if x > 6.0:
        return log1p(-0.5 * erfc(x * 0.7071067811865476))
    if x > -37.0:
        return log(0.5 * erfc(-x * 0.7071067811865476))
    z = 1.0 / (x * x)
    return -0.5 * x * x - log(-x) - 0.9189385332046727 + log1p(-z + 3.0 * z * z - 15.0 * z * z * z)


cdef inline double lgam(double x) noexcept nogil:
    cdef int s
    return lgamma_r(x, &s)


cdef inline double digamma(double x) noexcept nogil:
    """psi(x) for x > 0: upward recurrence then the asymptotic series."""
    cdef double r = 0.0, f
    while x < 6.0:
        r -= 1.0 / x
        x += 1.0
    f = 1.0 / (x * x)
    return r + log(x) - 0.5 / x - f * (1.0 / 12 - f * (1.0 / 120 - f * (
        1.0 / 252 - f * (1.0 / 240 - f / 132))))


cdef inline double trigamma(double x) noexcept nogil:
    """psi'(x) for x > 0."""
    cdef double r = 0.0, f
    while x < 6.0:
        r += 1.0 / (x * x)
        x += 1.0
    f = 1.0 / (x * x)
    return r + 1.0 / x + 0.5 * f + f / x * (1.0 / 6 - f * (1.0 / 30 - f * (1.0 / 42 - f / 30)))


# ---------------------------------------------------------------- CDF links (binary, ordinal)

cdef inline double cdf_logF(int link, double x, double* d1, double* d2) noexcept nogil:
    """log F(x) and its first two derivatives for the logit, probit and cloglog CDFs."""
    cdef double F, S, v, lam, em
    if link == LINK_LOGIT:
        if x >= 0:
            F = 1.0 / (1.0 + exp(-x))
            S = exp(-x) * F
        else:
            S = 1.0 / (1.0 + exp(x))
            F = exp(x) * S
        d1[0] = S
        d2[0] = -F * S
        return -log1pexp(-x)
    if link == LINK_PROBIT:
        v = log_ndtr(x)
        lam = exp(-0.5 * x * x - 0.9189385332046727 - v)
        d1[0] = lam
        d2[0] = -lam * (x + lam)
        return v
    # cloglog: F = 1 - exp(-e^x)
    v = exp(x)
    if v > 700.0:
        d1[0] = 0.0
        d2[0] = 0.0
        return -exp(-v)
    em = expm1(v)
    if v < 1e-4:
        d1[0] = 1.0 - 0.5 * v + v * v / 12.0
        d2[0] = v * (-0.5 + v / 6.0)
    else:
        d1[0] = v / em
        d2[0] = v * (em - v * (em + 1.0)) / (em * em)
    return log(-expm1(-v))


cdef inline double cdf_logS(int link, double x, double* d1, double* d2) noexcept nogil:
    """log(1 - F(x)) and its first two derivatives."""
    cdef double v
    if link == LINK_CLOGLOG:
        v = exp(x)
        d1[0] = -v
        d2[0] = -v
        return -v
    # symmetric CDFs: 1 - F(x) = F(-x)
    v = cdf_logF(link, -x, d1, d2)
    d1[0] = -d1[0]
    return v


cdef inline void cdf_Ff(int link, double x, double* F, double* S, double* f,
                        double* fp) noexcept nogil:
    """F(x), 1 - F(x), density f(x) and f'(x)."""
    cdef double v, e
    if link == LINK_LOGIT:
        if x >= 0:
            F[0] = 1.0 / (1.0 + exp(-x))
            S[0] = exp(-x) * F[0]
        else:
            S[0] = 1.0 / (1.0 + exp(x))
            F[0] = exp(x) * S[0]
        f[0] = F[0] * S[0]
        fp[0] = f[0] * (S[0] - F[0])
    elif link == LINK_PROBIT:
        F[0] = 0.5 * erfc(-x * 0.7071067811865476)
        S[0] = 0.5 * erfc(x * 0.7071067811865476)
        f[0] = exp(-0.5 * x * x - 0.9189385332046727)
        fp[0] = -x * f[0]
    else:
        v = exp(x)
        e = exp(-v)
        F[0] = -expm1(-v)
        S[0] = e
        f[0] = v * e
        fp[0] = f[0] * (1.0 - v)


cdef inline double ordinal_eval(int link, int k, double eta, const double* cut, int ncut,
                                double* d1, double* d2, double* dca, double* dcb) noexcept nogil:
    """log P(y = k) = log(F(cut_k - eta) - F(cut_{k-1} - eta)); dca, dcb: derivatives in
    cut_k and cut_{k-1} (unused ends are set to 0)."""
    cdef double a, b, Fa, Sa, fa, fpa, Fb, Sb, fb, fpb, D, g1, g2, v
    if k <= 0:
        a = cut[0] - eta
        v = cdf_logF(link, a, &g1, &g2)
        d1[0] = -g1
        d2[0] = g2
        dca[0] = g1
        dcb[0] = 0.0
        return v
    if k >= ncut:
        b = cut[ncut - 1] - eta
        v = cdf_logS(link, b, &g1, &g2)
        d1[0] = -g1
        d2[0] = g2
        dca[0] = 0.0
        dcb[0] = g1
        return v
    a = cut[k] - eta
    b = cut[k - 1] - eta
    cdf_Ff(link, a, &Fa, &Sa, &fa, &fpa)
    cdf_Ff(link, b, &Fb, &Sb, &fb, &fpb)
    if b > 0:
        D = Sb - Sa
    else:
        D = Fa - Fb
    if D <= 0:
        d1[0] = 0.0
        d2[0] = 0.0
        dca[0] = 0.0
        dcb[0] = 0.0
        return -INFINITY
    g1 = (fa - fb) / D
    d1[0] = -g1
    d2[0] = (fpa - fpb) / D - g1 * g1
    dca[0] = fa / D
    dcb[0] = -fb / D
    return log(D)


# ---------------------------------------------------------------- censored normal (tobit, intreg)

cdef inline double censored_normal_eval(double a, double b, double eta, double la, double* d1,
                                        double* d2, double* da) noexcept nogil:
    """Variable part of the log likelihood of a normal N(eta, s^2), s^2 = exp(la), observed
    exactly (b == a), left-censored at a (b = -inf), right-censored at a (b = +inf) or in the
    interval (a, b); d1, d2 in eta and da in la.  The exact rows' -log(2 pi)/2 - la/2 is
    ``obs_constant``'s.  Censored rows use log Phi (``log_ndtr``), intervals log(Phi(zb) -
    Phi(za)) from the tail in which both ends lie, so no row underflows to log(0) early."""
    cdef double s2 = exp(la), s = exp(0.5 * la), z, g1, g2, za, zb, la_, lb_, lD, ra, rb, v
    if b == a:
        z = a - eta
        d1[0] = z / s2
        d2[0] = -1.0 / s2
        da[0] = 0.5 * z * z / s2
        return -0.5 * z * z / s2
    if b == INFINITY or b == -INFINITY:
        # right: log P(Y > a) = log Phi((eta - a)/s); left: log P(Y < a) = log Phi((a - eta)/s)
        z = (eta - a) / s if b > 0 else (a - eta) / s
        v = cdf_logF(LINK_PROBIT, z, &g1, &g2)
        d1[0] = g1 / s if b > 0 else -g1 / s
        d2[0] = g2 / s2
        da[0] = -0.5 * z * g1
        return v
    za = (a - eta) / s
    zb = (b - eta) / s
    if za > 0:
        la_ = log_ndtr(-za)
        lb_ = log_ndtr(-zb)
        lD = la_ + log1p(-exp(lb_ - la_))
    elif zb < 0:
        la_ = log_ndtr(za)
        lb_ = log_ndtr(zb)
        lD = lb_ + log1p(-exp(la_ - lb_))
    else:
        v = 1.0 - 0.5 * erfc(zb * 0.7071067811865476) - 0.5 * erfc(-za * 0.7071067811865476)
        lD = log(v) if v > 0 else -INFINITY
    if not lD > -INFINITY:
        d1[0] = 0.0
        d2[0] = 0.0
        da[0] = 0.0
        return -INFINITY
    ra = exp(-0.5 * za * za - 0.9189385332046727 - lD)
    rb = exp(-0.5 * zb * zb - 0.9189385332046727 - lD)
    d1[0] = -(rb - ra) / s
    d2[0] = -(zb * rb - za * ra) / s2 - d1[0] * d1[0]
    da[0] = -0.5 * (zb * rb - za * ra)
    return lD


# ---------------------------------------------------------------- parametric survival (mestreg)

cdef inline bint fam_survival(int fam) noexcept nogil:
    """True for the survival families, whose rows are y = +-time (+ failure, - censored) and
    t = the entry time (0 without delayed entry)."""
    return (fam == FAM_EXPONENTIAL_PH or fam == FAM_EXPONENTIAL_AFT or fam == FAM_WEIBULL_PH
            or fam == FAM_WEIBULL_AFT or fam == FAM_GOMPERTZ_PH or fam == FAM_LOGNORMAL_AFT
            or fam == FAM_LOGLOGISTIC_AFT or fam == FAM_GGAMMA_AFT)


cdef inline void gompertz_G(double g, double t, double* G, double* Gg) noexcept nogil:
    """G(t) = (exp(g t) - 1) / g (t at g = 0), the Gompertz cumulative hazard at eta = 0,
    and dG/dg; the series in g t where |g t| is small."""
    cdef double x = g * t
    if fabs(x) < 1e-4:
        G[0] = t * (1.0 + x / 2.0 + x * x / 6.0)
        Gg[0] = t * t * (0.5 + x / 3.0 + x * x / 8.0)
    else:
        G[0] = expm1(x) / g
        Gg[0] = (t * exp(x) - G[0]) / g


cdef inline double aft_log_f0(int fam, double z, double* f1, double* f2) noexcept nogil:
    """log f0(z) of the standard normal or logistic error W of log time, with its first
    and second derivatives in z."""
    cdef double a1, a2, b1, b2, lf
    if fam == FAM_LOGNORMAL_AFT:
        lf = -0.5 * z * z - 0.9189385332046727
        f1[0] = -z
        f2[0] = -1.0
        return lf
    lf = cdf_logF(LINK_LOGIT, z, &a1, &a2) + cdf_logS(LINK_LOGIT, z, &b1, &b2)
    f1[0] = a1 + b1
    f2[0] = a2 + b2
    return lf


cdef inline double aft_logS(int fam, double z, double* g1, double* g2) noexcept nogil:
    """log S0(z) = log P(W > z) of the standard normal or logistic W, derivatives in z."""
    return cdf_logS(LINK_PROBIT if fam == FAM_LOGNORMAL_AFT else LINK_LOGIT, z, g1, g2)


cdef inline double survival_eval(int fam, double y, double t0, double eta, const double* aux,
                                 double* d1, double* d2, double* da) noexcept nogil:
    """log[h(t)^d S(t) / S(t0)] of one row (y = +-t, see ``fam_survival``), conditional on
    eta, with d1, d2 in eta and da in the ancillary parameter (log p, gamma, log sigma).

    PH:  h = exp(eta) h0(t); weibull h0 = p t^(p-1), exponential p = 1, gompertz
         h0 = exp(gamma t).  AFT: log t = eta + sigma W; weibull W extreme-value with
         sigma = 1/p, lognormal W normal, loglogistic W logistic (Stata's [ST] streg)."""
    cdef double dd = 1.0 if y > 0 else 0.0
    cdef double tt = fabs(y), lt = log(tt), lt0 = log(t0) if t0 > 0 else 0.0
    cdef double p, la, w, w0, e, e0, G, Gg, G0, Gg0, s, z, z0, f1, f2, m1, m2, v, lS
    cdef bint entered = t0 > 0
    if fam == FAM_GOMPERTZ_PH:
        gompertz_G(aux[0], tt, &G, &Gg)
        G0 = 0.0
        Gg0 = 0.0
        if entered:
            gompertz_G(aux[0], t0, &G0, &Gg0)
        e = exp(eta)
        d1[0] = dd - e * (G - G0)
        d2[0] = -e * (G - G0)
        da[0] = dd * tt - e * (Gg - Gg0)
        return dd * (eta + aux[0] * tt) - e * (G - G0)
    if fam == FAM_LOGNORMAL_AFT or fam == FAM_LOGLOGISTIC_AFT:
        la = aux[0]
        s = exp(la)
        z = (lt - eta) / s
        if dd > 0:
            v = aft_log_f0(fam, z, &f1, &f2)
        else:
            v = aft_logS(fam, z, &f1, &f2)
        m1 = 0.0
        m2 = 0.0
        z0 = 0.0
        if entered:
            z0 = (lt0 - eta) / s
            lS = aft_logS(fam, z0, &m1, &m2)
            v -= lS
        d1[0] = -(f1 - m1) / s
        d2[0] = (f2 - m2) / (s * s)
        da[0] = -(f1 * z - m1 * z0) - dd
        return v - dd * (la + lt)
    if fam == FAM_WEIBULL_PH or fam == FAM_WEIBULL_AFT:
        la = aux[0]
        p = exp(la)
    else:
        la = 0.0
        p = 1.0
    if fam == FAM_WEIBULL_PH or fam == FAM_EXPONENTIAL_PH:
        w = eta + p * lt
        e = exp(w)
        e0 = exp(eta + p * lt0) if entered else 0.0
        d1[0] = dd - e + e0
        d2[0] = -e + e0
        da[0] = dd * (1.0 + p * lt) - p * lt * e + (p * lt0 * e0 if entered else 0.0)
        return dd * (la + (p - 1.0) * lt + eta) - e + e0
    # AFT: H = exp(u), u = p (log t - eta); log h = log p - log t + u
    w = p * (lt - eta)
    e = exp(w)
    w0 = p * (lt0 - eta) if entered else 0.0
    e0 = exp(w0) if entered else 0.0
    d1[0] = -p * dd + p * e - p * e0
    d2[0] = -p * p * (e - e0)
    da[0] = dd * (1.0 + w) - w * e + w0 * e0
    return dd * (la - lt + w) - e + e0


# ---------------------------------------------------------------- generalized gamma AFT (mestreg)
#
# Stata's distribution(gamma) ([ST] streg, Methods and formulas), the log-gamma form of
# Prentice (1974): with w = (log t - eta) / sigma, gamma = kappa^-2 and
# u = gamma exp(kappa w) ~ Gamma(gamma, 1),
#     f_w(w) = |kappa| u^gamma exp(-u) / Gamma(gamma),
#     S = Q(gamma, u) (kappa > 0),  P(gamma, u) (kappa < 0),  Phi(-w) (kappa = 0),
# P and Q the regularized incomplete gamma functions.  log f_w is written as
# D(gamma) - w^2 E(kappa w), D = gamma log gamma - log(gamma)/2 - lgamma(gamma) - gamma and
# E(x) = (e^x - 1 - x) / x^2, so kappa -> 0 reaches the normal density without cancellation.

cdef inline double gg_E(double x) noexcept nogil:
    """(exp(x) - 1 - x) / x^2, 1/2 at 0; the series sum x^n / (n + 2)! for |x| <= 0.1."""
    cdef double s = 0.0, term = 0.5
    cdef int n
    if fabs(x) > 0.1:
        return (expm1(x) - x) / (x * x)
    for n in range(12):
        s += term
        term *= x / (n + 3)
    return s


cdef inline double gg_D(double k2) noexcept nogil:
    """gamma log gamma - log(gamma)/2 - lgamma(gamma) - gamma at gamma = 1/k2; Stirling's
    series in 1/gamma = k2 (DLMF 5.11.1) for gamma >= 20 (truncation below 1e-14)."""
    cdef double g
    if k2 <= 0.05:
        return -0.9189385332046727 - k2 * (1.0 / 12 - k2 * k2 * (
            1.0 / 360 - k2 * k2 * (1.0 / 1260 - k2 * k2 / 1680)))
    g = 1.0 / k2
    return (g - 0.5) * log(g) - lgam(g) - g


cdef inline double gg_logf(double w, double k) noexcept nogil:
    """log f_w(w) of the standardized log time (density of log t is f_w / sigma)."""
    return gg_D(k * k) - w * w * gg_E(k * w)


cdef inline double gg_log_series(double a, double x) noexcept nogil:
    """log sum_{n>=0} x^n / ((a+1)...(a+n)), so P(a, x) = x^a e^-x / Gamma(a + 1) times the
    sum (DLMF 8.7.1; Numerical Recipes 6.2.5); used for x < a + 1."""
    cdef double s = 1.0, term = 1.0, ap = a
    cdef int n
    for n in range(2000000):
        ap += 1.0
        term *= x / ap
        s += term
        if term < s * 1e-17:
            break
    return log(s)


cdef inline double gg_log_cf(double a, double x) noexcept nogil:
    """log of Gamma(a, x) e^x x^-a by its continued fraction (DLMF 8.9.2; Numerical Recipes
    6.2.7, modified Lentz); used for x >= a + 1."""
    cdef double b = x + 1.0 - a, c = 1e300, d = 1.0 / b, h = d, an, de
    cdef int i
    for i in range(1, 2000000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        if fabs(d) < 1e-300:
            d = 1e-300
        c = b + an / c
        if fabs(c) < 1e-300:
            c = 1e-300
        d = 1.0 / d
        de = d * c
        h *= de
        if fabs(de - 1.0) < 1e-16:
            break
    return log(h)


cdef inline double gg_temme_c(double eta, double lm1, double k2) noexcept nogil:
    """c0(eta) + c1(eta) / a + c2(0) / a^2 of Temme's expansion, 1/a = k2, lm1 = lambda - 1
    (DLMF 8.12.7-8.12.10 and the Maclaurin coefficients of c0, c1; checked against mpmath)."""
    cdef double c0, c1
    if fabs(eta) < 0.03:
        c0 = -1.0 / 3 + eta * (1.0 / 12 + eta * (-2.0 / 135 + eta * (
            1.0 / 864 + eta * (1.0 / 2835 - eta * 139.0 / 777600))))
        c1 = -1.0 / 540 + eta * (-1.0 / 288 + eta * (1.0 / 378 - eta * 7.0 / 10368))
    else:
        c0 = 1.0 / lm1 - 1.0 / eta
        c1 = 1.0 / (eta * eta * eta) - 1.0 / (lm1 * lm1 * lm1) - 1.0 / (lm1 * lm1) \
            - 1.0 / (12.0 * lm1)
    return c0 + k2 * (c1 + k2 * 25.0 / 6048)


cdef inline double gg_logS(double w, double k, double lf) noexcept nogil:
    """log S(w) of the standardized log time, lf = log f_w(w).

    |kappa| <= 0.01: Temme's uniform expansion (DLMF 8.12.3-8.12.4) in the unified form
    S = Phi(-z) + kappa phi(z) C(eta), z = eta / kappa = w sqrt(2 E(kappa w)), exact at
    kappa = 0 (lognormal) and accurate to about kappa^5 / 200 relative; it is left for the
    direct forms in the far upper tail (z > 30 with |eta| > 0.3), where its two terms
    cancel.  Otherwise P or Q from the series (x < a + 1) or the continued fraction, in log
    scale with the prefactor x^a e^-x / Gamma(a) = f_w / |kappa|, so neither underflows."""
    cdef double ak = fabs(k), x = k * w, E, z, eta, C, l0, a, u, lp
    cdef bint upper
    if ak <= 0.01:
        E = gg_E(x)
        z = w * sqrt(2.0 * E)
        eta = k * z
        if z <= 30.0 or fabs(eta) <= 0.3:
            C = gg_temme_c(eta, expm1(x), k * k)
            if z > 0:
                l0 = log_ndtr(-z)
                return l0 + log1p(k * C * exp(-0.5 * z * z - 0.9189385332046727 - l0))
            return log1p(-(0.5 * erfc(-z * 0.7071067811865476)
                           - k * C * exp(-0.5 * z * z - 0.9189385332046727)))
    a = 1.0 / (k * k)
    u = a * exp(x)
    upper = k > 0          # S = Q(a, u); else S = P(a, u)
    if u < a + 1.0:
        lp = lf + log(ak) + gg_log_series(a, u)       # log P
        return log1p(-exp(lp)) if upper else lp
    lp = lf - log(ak) + gg_log_cf(a, u)               # log Q
    return lp if upper else log1p(-exp(lp))


cdef inline double gg_row(double dd, double w, double w0, bint entered, double k,
                          double* g1, double* g2, double* m1, double* m2) noexcept nogil:
    """d log f_w(w) + (1 - d) log S(w) - log S(w0) and, when g1 is not NULL, its first and
    second w-derivatives at w (g1, g2) and at w0 (m1, m2):
    d log f_w / dw = -w (e^x - 1) / x, d2 = -e^x (x = kappa w); d log S / dw = -r with
    r = f_w / S, d2 log S / dw2 = r w (e^x - 1) / x - r^2."""
    cdef double lf = gg_logf(w, k), v, lS, r, x, e1
    if dd > 0:
        v = lf
        if g1 != NULL:
            x = k * w
            g1[0] = -w * (expm1(x) / x if x != 0 else 1.0)
            g2[0] = -exp(x)
    else:
        v = gg_logS(w, k, lf)
        if g1 != NULL:
            x = k * w
            e1 = expm1(x) / x if x != 0 else 1.0
            r = exp(lf - v)
            g1[0] = -r
            g2[0] = r * w * e1 - r * r
    if entered:
        lf = gg_logf(w0, k)
        lS = gg_logS(w0, k, lf)
        v -= lS
        if g1 != NULL:
            x = k * w0
            e1 = expm1(x) / x if x != 0 else 1.0
            r = exp(lf - lS)
            m1[0] = -r
            m2[0] = r * w0 * e1 - r * r
    elif g1 != NULL:
        m1[0] = 0.0
        m2[0] = 0.0
    return v


cdef inline double ggamma_eval(double y, double t0, double eta, const double* aux,
                               double* d1, double* d2, double* da) noexcept nogil:
    """log[f(t)^d S(t)^(1-d) / S(t0)] of one generalized gamma AFT row (y = +-t), aux =
    (log sigma, kappa), with d1, d2 in eta and, when ``da`` is not NULL, da[0] in log sigma
    and da[1] in kappa.  The kappa-derivative is the five-point central difference of step
    1e-3 at fixed (w, w0) (Abramowitz and Stegun 25.3.6): its truncation error is
    h^4 |l^(5)| / 30 ~ 3e-14 |l^(5)| and its rounding error about 1e-13 |l|."""
    cdef double dd = 1.0 if y > 0 else 0.0
    cdef double tt = fabs(y), lt = log(tt), la = aux[0], k = aux[1], s = exp(la)
    cdef bint entered = t0 > 0
    cdef double w = (lt - eta) / s, w0 = (log(t0) - eta) / s if entered else 0.0
    cdef double g1, g2, m1, m2, v, h = 1e-3, fp1, fm1, fp2, fm2
    v = gg_row(dd, w, w0, entered, k, &g1, &g2, &m1, &m2)
    d1[0] = -(g1 - m1) / s
    d2[0] = (g2 - m2) / (s * s)
    if da != NULL:
        da[0] = -(g1 * w - m1 * w0) - dd
        fp1 = gg_row(dd, w, w0, entered, k + h, NULL, NULL, NULL, NULL)
        fm1 = gg_row(dd, w, w0, entered, k - h, NULL, NULL, NULL, NULL)
        fp2 = gg_row(dd, w, w0, entered, k + 2 * h, NULL, NULL, NULL, NULL)
        fm2 = gg_row(dd, w, w0, entered, k - 2 * h, NULL, NULL, NULL, NULL)
        da[1] = (8.0 * (fp1 - fm1) - (fp2 - fm2)) / (12.0 * h)
    return v - dd * (la + lt)


# ---------------------------------------------------------------- all families

cdef inline double fam_eval(int fam, int link, double y, double t, double eta,
                            const double* aux, int naux, double* d1,
                            double* d2) noexcept nogil:
    """Variable part of log f(y | eta) with d/deta and d2/deta2 (see module docstring)."""
    cdef double mu, m1, m2, logmu, lm, lmm, v, a1, a2, b1, b2, s2, r, k, delta, dca, dcb
    if (fam == FAM_BERNOULLI or fam == FAM_BINOMIAL) and link == LINK_LOGIT:
        # canonical logit: l = y eta - t log(1 + e^eta), one exp and one log1p
        mu = logistic_tail(eta, &a1)
        v = y * eta - t * ((eta if eta >= 0 else 0.0) + log1p(a1))
        d1[0] = y - t * mu
        d2[0] = -t * mu * (1.0 - mu)
        return v
    if fam == FAM_BERNOULLI or fam == FAM_BINOMIAL:
        v = 0.0
        d1[0] = 0.0
        d2[0] = 0.0
        if y != 0.0:
            v = y * cdf_logF(link, eta, &a1, &a2)
            d1[0] = y * a1
            d2[0] = y * a2
        if t - y != 0.0:
            v += (t - y) * cdf_logS(link, eta, &b1, &b2)
            d1[0] += (t - y) * b1
            d2[0] += (t - y) * b2
        return v
    if fam == FAM_ORDINAL:
        return ordinal_eval(link, <int>y, eta, aux, naux, d1, d2, &dca, &dcb)
    if fam == FAM_CENSORED_NORMAL:
        return censored_normal_eval(y, t, eta, aux[0], d1, d2, &dca)
    if fam_survival(fam):
        if fam == FAM_GGAMMA_AFT:
            return ggamma_eval(y, t, eta, aux, d1, d2, NULL)
        return survival_eval(fam, y, t, eta, aux, d1, d2, &dca)
    # mean-parameterised families with identity or log link
    if link == LINK_LOG:
        mu = exp(eta)
        m1 = mu
        m2 = mu
        logmu = eta
    else:
        mu = eta
        m1 = 1.0
        m2 = 0.0
        if fam != FAM_GAUSSIAN and mu <= 0:
            d1[0] = 0.0
            d2[0] = 0.0
            return -INFINITY
        logmu = log(mu) if fam != FAM_GAUSSIAN else 0.0
    if fam == FAM_GAUSSIAN:
        s2 = exp(aux[0])
        v = -0.5 * (y - mu) * (y - mu) / s2
        lm = (y - mu) / s2
        lmm = -1.0 / s2
    elif fam == FAM_POISSON:
        v = y * logmu - mu
        lm = y / mu - 1.0
        lmm = -y / (mu * mu)
    elif fam == FAM_NBINOMIAL_MEAN:
        r = exp(-aux[0])
        v = y * logmu - (r + y) * log(r + mu)
        lm = y / mu - (r + y) / (r + mu)
        lmm = -y / (mu * mu) + (r + y) / ((r + mu) * (r + mu))
    elif fam == FAM_NBINOMIAL_CONSTANT:
        delta = exp(aux[0])
        r = mu / delta
        v = lgam(y + r) - lgam(r) - r * log1p(delta)
        lm = (digamma(y + r) - digamma(r) - log1p(delta)) / delta
        lmm = (trigamma(y + r) - trigamma(r)) / (delta * delta)
    else:
        k = exp(-aux[0])
        v = -k * (y / mu + logmu)
        lm = k * (y / (mu * mu) - 1.0 / mu)
        lmm = k * (1.0 / (mu * mu) - 2.0 * y / (mu * mu * mu))
    d1[0] = lm * m1
    d2[0] = lmm * m1 * m1 + lm * m2
    return v


cdef inline void fam_daux(int fam, int link, double y, double t, double eta,
                          const double* aux, int naux, double* out) noexcept nogil:
    """d/daux of the variable part of log f(y | eta), written to out[0:naux]."""
    cdef double mu, r, delta, k, dd1, dd2, dca, dcb
    cdef int j, yk
    if fam == FAM_ORDINAL:
        for j in range(naux):
            out[j] = 0.0
        yk = <int>y
        ordinal_eval(link, yk, eta, aux, naux, &dd1, &dd2, &dca, &dcb)
        if yk < naux:
            out[yk if yk > 0 else 0] = dca
        if yk > 0:
            out[yk - 1] = dcb
        return
    if fam == FAM_CENSORED_NORMAL:
        censored_normal_eval(y, t, eta, aux[0], &dd1, &dd2, out)
        return
    if fam_survival(fam):
        if fam == FAM_GGAMMA_AFT:
            ggamma_eval(y, t, eta, aux, &dd1, &dd2, out)
        elif naux > 0:
            survival_eval(fam, y, t, eta, aux, &dd1, &dd2, out)
        return
    if naux == 0:
        return
    mu = exp(eta) if link == LINK_LOG else eta
    if fam == FAM_GAUSSIAN:
        out[0] = 0.5 * (y - mu) * (y - mu) * exp(-aux[0])
    elif fam == FAM_NBINOMIAL_MEAN:
        r = exp(-aux[0])
        out[0] = r * (log(r + mu) + (r + y) / (r + mu))
    elif fam == FAM_NBINOMIAL_CONSTANT:
        delta = exp(aux[0])
        r = mu / delta
        out[0] = -r * (digamma(y + r) - digamma(r)) + r * log1p(delta) - r * delta / (1.0 + delta)
    elif fam == FAM_GAMMA:
        k = exp(-aux[0])
        out[0] = k * (y / mu + (eta if link == LINK_LOG else log(mu)))


cdef inline double fam_d3(int fam, int link, double y, double t, double eta, const double* aux,
                          int naux, double h) noexcept nogil:
    """Third eta-derivative of log f(y | eta): analytic for the canonical bernoulli/binomial
    logit and poisson log models, a central difference of the analytic second derivative
    (step h) otherwise."""
    cdef double mu, e, d1p, d2p, d1m, d2m
    if (fam == FAM_BERNOULLI or fam == FAM_BINOMIAL) and link == LINK_LOGIT:
        mu = logistic_tail(eta, &e)
        return -t * mu * (1.0 - mu) * (1.0 - 2.0 * mu)
    if fam == FAM_POISSON and link == LINK_LOG:
        return -exp(eta)
    fam_eval(fam, link, y, t, eta + h, aux, naux, &d1p, &d2p)
    fam_eval(fam, link, y, t, eta - h, aux, naux, &d1m, &d2m)
    return (d2p - d2m) / (2.0 * h)


cdef inline void laplace_aux_gradient(int fam, int link, double y, double t, double eta,
                                      const double* aux, double* auxp, int naux, double h,
                                      double aw, double step, double* tmp,
                                      double* out) noexcept nogil:
    """Add one observation's contribution to the gradient of the Laplace log likelihood in the
    ancillary parameters: d log f / d aux, plus the curvature terms 0.5 h d(d2)/d aux and
    0.5 aw d(d1)/d aux by central differences of ``step`` (``auxp`` is a scratch copy of aux;
    ``h`` and ``aw`` are the observation's leverage and mode-response weights)."""
    cdef int m
    cdef double save, d1p, d2p, d1m, d2m
    fam_daux(fam, link, y, t, eta, aux, naux, tmp)
    for m in range(naux):
        out[m] += tmp[m]
        save = auxp[m]
        auxp[m] = save + step
        fam_eval(fam, link, y, t, eta, auxp, naux, &d1p, &d2p)
        auxp[m] = save - step
        fam_eval(fam, link, y, t, eta, auxp, naux, &d1m, &d2m)
        auxp[m] = save
        out[m] += (0.5 * h * (d2p - d2m) + 0.5 * aw * (d1p - d1m)) / (2 * step)


cdef inline bint fam_canonical(int fam, int link) noexcept nogil:
    """True for the canonical bernoulli/binomial logit and poisson log models, whose log f is
    concave in eta and whose third derivative follows from the first two (``fam_d3_from``)."""
    return (((fam == FAM_BERNOULLI or fam == FAM_BINOMIAL) and link == LINK_LOGIT)
            or (fam == FAM_POISSON and link == LINK_LOG))


cdef inline double fam_d3_from(int fam, double y, double t, double d1, double d2) noexcept nogil:
    """Third eta-derivative of a canonical model (``fam_canonical``) from its first two, with
    no exp: logit mu = (y - l') / t and l''' = l'' (1 - 2 mu); poisson log l''' = l''."""
    if fam == FAM_POISSON:
        return d2
    if t <= 0:
        return 0.0
    return d2 * (1.0 - 2.0 * (y - d1) / t)
