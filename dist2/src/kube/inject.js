import { workloadNameProblem } from '../identity/workload-name.js';
import { agentSecurityProblems } from './agent-security.js';
import { agentEnv, iptablesInitContainer, PATHS, sidecarVolumes, sidekeyContainer } from './sidecar.js';
/**
 * The admission decision of `sidekey inject-webhook`: for a Pod annotated
 * `sidekey.dev/inject: "true"`, a JSONPatch (RFC 6902) that adds the sidekey sidecar, transparent
 * mode's init container when `sidekey.dev/mode: transparent`, the volumes, and the proxy and
 * CA-trust variables on every agent container. Pods without the annotation, already injected, or
 * on the node's network (`hostNetwork`: the init container would rewrite the node's own rules and
 * sidekey's listeners would serve the whole node) are allowed unchanged, with a warning. The one
 * pod it denies is a transparent-mode pod whose containers could get around sidekey (root,
 * sidekey's user id, capabilities; see agent-security.ts), unless the settings say only to warn.
 */
export const ANNOTATIONS = Object.freeze({
    inject: 'sidekey.dev/inject',
    mode: 'sidekey.dev/mode',
    workload: 'sidekey.dev/workload',
    reportOnly: 'sidekey.dev/report-only',
    blockOtherEgress: 'sidekey.dev/block-other-egress',
    policies: 'sidekey.dev/policies',
    status: 'sidekey.dev/status',
});
/** Thrown for a request that is not an AdmissionReview of a Pod (answered 400). */
export class BadReview extends Error {
}
/** Answer one AdmissionReview request body. */
export function review(body, settings) {
    const req = body;
    if (req === null || typeof req !== 'object' || req.kind !== 'AdmissionReview' || req.apiVersion !== 'admission.k8s.io/v1')
        throw new BadReview('not an admission.k8s.io/v1 AdmissionReview');
    const r = req.request;
    if (r === undefined || typeof r.uid !== 'string' || r.uid === '')
        throw new BadReview('the AdmissionReview has no request.uid');
    const allow = (extra = {}) => ({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: r.uid, allowed: true, ...extra } });
    const deny = (message) => allow({ allowed: false, status: { code: 403, message } });
    if (r.kind?.kind !== 'Pod' || r.object === null || typeof r.object !== 'object')
        return allow();
    const pod = r.object;
    const annotations = pod.metadata?.annotations ?? {};
    if (annotations[ANNOTATIONS.inject] !== 'true')
        return allow();
    if (annotations[ANNOTATIONS.status] === 'injected' || (pod.spec?.initContainers ?? []).some((c) => c.name === 'sidekey') || (pod.spec?.containers ?? []).some((c) => c.name === 'sidekey')) {
        return allow({ warnings: ['sidekey: already injected; left unchanged'] });
    }
    const containers = pod.spec?.containers;
    if (!Array.isArray(containers) || containers.length === 0)
        throw new BadReview('the pod has no containers');
    if (pod.spec?.hostNetwork === true)
        return allow({ warnings: ['sidekey: not injected into a hostNetwork pod: its listeners would serve every process on the node, and transparent mode\'s rules would rewrite the node\'s own iptables (cutting off the kubelet)'] });
    const warnings = [];
    const mode = annotations[ANNOTATIONS.mode] ?? 'explicit';
    if (mode !== 'explicit' && mode !== 'transparent')
        warnings.push(`sidekey: unknown ${ANNOTATIONS.mode} "${mode}"; using explicit`);
    const workload = annotations[ANNOTATIONS.workload] ?? pod.metadata?.labels?.['app.kubernetes.io/name'] ?? pod.metadata?.labels?.app ?? pod.spec?.serviceAccountName ?? 'default';
    // The same rule as --workload (a sidecar given a name it refuses would never start): the reserved
    // name `anonymous` falls back too.
    const problem = workloadNameProblem(workload);
    const validWorkload = problem === null ? workload : 'default';
    if (problem !== null)
        warnings.push(`sidekey: workload ${problem}; using "default"`);
    const choices = {
        workload: validWorkload,
        mode: mode === 'transparent' ? 'transparent' : 'explicit',
        reportOnly: annotations[ANNOTATIONS.reportOnly] === 'true',
        blockOtherEgress: annotations[ANNOTATIONS.blockOtherEgress] !== 'false',
    };
    const s = { ...settings, policiesConfigMap: annotations[ANNOTATIONS.policies] ?? settings.policiesConfigMap };
    if (choices.mode === 'transparent') {
        const problems = agentSecurityProblems(pod.spec, s.uid);
        const why = `sidekey: in transparent mode these containers could get around sidekey: ${problems.join('; ')}`;
        if (problems.length > 0 && s.agentSecurity === 'refuse')
            return deny(`${why}. Fix their securityContext (a fixed non-root runAsUser other than ${s.uid}, runAsNonRoot: true, capabilities dropped), or have the webhook's operator set agentSecurity: warn`);
        if (problems.length > 0)
            warnings.push(why);
    }
    const patch = [];
    const env = agentEnv(choices.mode, s.noProxy);
    const mount = { name: 'sidekey-ca-public', mountPath: PATHS.ca, readOnly: true };
    /** The proxy and CA variables and the CA mount for the pod's containers of `list` (indices before any insertion). */
    const trustAndProxy = (list, of) => of.forEach((c, i) => {
        if (c.env === undefined)
            patch.push({ op: 'add', path: `/spec/${list}/${i}/env`, value: env });
        // Appended: where a container sets a variable twice, the later value wins.
        else
            for (const e of env)
                patch.push({ op: 'add', path: `/spec/${list}/${i}/env/-`, value: e });
        if (c.volumeMounts === undefined)
            patch.push({ op: 'add', path: `/spec/${list}/${i}/volumeMounts`, value: [mount] });
        else
            patch.push({ op: 'add', path: `/spec/${list}/${i}/volumeMounts/-`, value: mount });
    });
    // Init containers run in order: iptables first, then sidekey (a native sidecar keeps running),
    // then the pod's own init containers, whose traffic goes through sidekey too, so they get the
    // variables and the CA. A plain sidecar starts after every init container: theirs stay untouched.
    if (s.native)
        trustAndProxy('initContainers', pod.spec?.initContainers ?? []);
    const mine = [...(choices.mode === 'transparent' ? [iptablesInitContainer(s, choices)] : []), ...(s.native ? [sidekeyContainer(s, choices)] : [])];
    if (mine.length > 0) {
        if (pod.spec?.initContainers === undefined)
            patch.push({ op: 'add', path: '/spec/initContainers', value: mine });
        else
            mine.forEach((c, i) => patch.push({ op: 'add', path: `/spec/initContainers/${i}`, value: c }));
    }
    trustAndProxy('containers', containers);
    // A plain sidecar goes first: the kubelet starts containers in order and holds the next until
    // sidekey's postStart hook says it is ready (after the variables above, whose indices it shifts).
    if (!s.native)
        patch.push({ op: 'add', path: '/spec/containers/0', value: sidekeyContainer(s, choices) });
    const volumes = sidecarVolumes(s);
    if (pod.spec?.volumes === undefined)
        patch.push({ op: 'add', path: '/spec/volumes', value: volumes });
    else
        for (const v of volumes)
            patch.push({ op: 'add', path: '/spec/volumes/-', value: v });
    // Room for sidekey's drain after SIGTERM (the API server has defaulted the field to 30 by now).
    const grace = s.drainSeconds + 5;
    if ((pod.spec?.terminationGracePeriodSeconds ?? 30) < grace)
        patch.push({ op: 'add', path: '/spec/terminationGracePeriodSeconds', value: grace });
    if (pod.metadata === undefined)
        patch.push({ op: 'add', path: '/metadata', value: { annotations: { [ANNOTATIONS.status]: 'injected' } } });
    else if (pod.metadata.annotations === undefined)
        patch.push({ op: 'add', path: '/metadata/annotations', value: { [ANNOTATIONS.status]: 'injected' } });
    else
        patch.push({ op: 'add', path: `/metadata/annotations/${ANNOTATIONS.status.replace('/', '~1')}`, value: 'injected' });
    return allow({ patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64'), ...(warnings.length > 0 ? { warnings } : {}) });
}
//# sourceMappingURL=inject.js.map