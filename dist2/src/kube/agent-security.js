/**
 * Whether a pod's own containers could get around transparent mode. The iptables rules leave
 * sidekey's user id alone and are rewritable with NET_ADMIN, so a container running as that user
 * id, or as root (which can take any user id), or holding capabilities, reaches the network
 * directly. The admission webhook refuses such a pod (or warns, by the operator's choice); the
 * Helm chart makes the same checks in its templates (`sidekey.agentSecurityProblems`).
 */
/** What a transparent-mode pod's containers must not be, one sentence per problem; empty: none. */
export function agentSecurityProblems(spec, sidekeyUid) {
    const pod = spec.securityContext ?? {};
    const problems = [];
    for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
        const own = c.securityContext ?? {};
        // The container's own setting wins over the pod's, as the kubelet applies them.
        const runAsUser = own.runAsUser ?? pod.runAsUser;
        const runAsNonRoot = own.runAsNonRoot ?? pod.runAsNonRoot;
        const say = (what) => void problems.push(`container "${c.name}" ${what}`);
        if (runAsUser === undefined)
            say(`sets no runAsUser (the image's user could be root or sidekey's ${sidekeyUid})`);
        else if (runAsUser === 0)
            say('runs as root, which can take sidekey\'s user id');
        else if (runAsUser === sidekeyUid)
            say(`runs as sidekey's user id ${sidekeyUid}, whose traffic is not redirected`);
        if (runAsNonRoot !== true)
            say('does not set runAsNonRoot: true');
        if (own.privileged === true)
            say('is privileged');
        if (!(own.capabilities?.drop ?? []).includes('ALL'))
            say('does not drop ALL capabilities');
        if ((own.capabilities?.add ?? []).length > 0)
            say(`adds capabilities (${own.capabilities.add.join(', ')})`);
    }
    return problems;
}
//# sourceMappingURL=agent-security.js.map