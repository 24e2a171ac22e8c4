const BASELINE_CAPABILITIES = ['AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT'];
const RESTRICTED_VOLUMES = ['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret'];
const SAFE_SYSCTLS = ['kernel.shm_rmid_forced', 'net.ipv4.ip_local_port_range', 'net.ipv4.ip_unprivileged_port_start', 'net.ipv4.tcp_syncookies', 'net.ipv4.ping_group_range', 'net.ipv4.ip_local_reserved_ports', 'net.ipv4.tcp_keepalive_time', 'net.ipv4.tcp_fin_timeout', 'net.ipv4.tcp_keepalive_intvl', 'net.ipv4.tcp_keepalive_probes'];
/** Every violation of the "restricted" level (which includes "baseline") in `pod`; empty when it passes. */
export function restrictedViolations(pod) {
    const out = [];
    const podSc = (pod.securityContext ?? {});
    const containers = [...(pod.initContainers ?? []), ...pod.containers, ...(pod.ephemeralContainers ?? [])];
    const sc = (c) => (c.securityContext ?? {});
    // baseline
    for (const field of ['hostNetwork', 'hostPID', 'hostIPC'])
        if (pod[field] === true)
            out.push(`host namespaces (${field}=true)`);
    if (podSc.windowsOptions?.hostProcess === true)
        out.push('hostProcess');
    for (const c of containers) {
        const s = sc(c);
        if (s.privileged === true)
            out.push(`privileged (container "${c.name}")`);
        for (const cap of s.capabilities?.add ?? [])
            if (!BASELINE_CAPABILITIES.includes(cap))
                out.push(`non-default capabilities (container "${c.name}" adds ${cap})`);
        for (const p of c.ports ?? [])
            if (p.hostPort !== undefined && p.hostPort !== 0)
                out.push(`hostPort (container "${c.name}")`);
        if (s.procMount !== undefined && s.procMount !== 'Default')
            out.push(`procMount (container "${c.name}")`);
        if (s.appArmorProfile?.type !== undefined && !['RuntimeDefault', 'Localhost'].includes(s.appArmorProfile.type))
            out.push(`appArmorProfile (container "${c.name}")`);
        if (s.seLinuxOptions?.type !== undefined && !['', 'container_t', 'container_init_t', 'container_kvm_t', 'container_engine_t'].includes(s.seLinuxOptions.type))
            out.push(`seLinuxOptions (container "${c.name}")`);
        if (s.seLinuxOptions?.user || s.seLinuxOptions?.role)
            out.push(`seLinuxOptions user/role (container "${c.name}")`);
    }
    for (const v of pod.volumes ?? [])
        if ('hostPath' in v)
            out.push(`hostPath volume "${v.name}"`);
    for (const s of podSc.sysctls ?? [])
        if (!SAFE_SYSCTLS.includes(s.name))
            out.push(`unsafe sysctl ${s.name}`);
    // restricted
    for (const v of pod.volumes ?? []) {
        const type = Object.keys(v).find((k) => k !== 'name');
        if (type === undefined || !RESTRICTED_VOLUMES.includes(type))
            out.push(`restricted volume types (volume "${v.name}" uses ${type})`);
    }
    for (const c of containers) {
        const s = sc(c);
        if (s.allowPrivilegeEscalation !== false)
            out.push(`allowPrivilegeEscalation != false (container "${c.name}")`);
        if ((s.runAsNonRoot ?? podSc.runAsNonRoot) !== true)
            out.push(`runAsNonRoot != true (container "${c.name}")`);
        if ((s.runAsUser ?? podSc.runAsUser) === 0)
            out.push(`runAsUser=0 (container "${c.name}")`);
        const seccomp = s.seccompProfile?.type ?? podSc.seccompProfile?.type;
        if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost')
            out.push(`seccompProfile (container "${c.name}" must set RuntimeDefault or Localhost)`);
        if (!(s.capabilities?.drop ?? []).includes('ALL'))
            out.push(`unrestricted capabilities (container "${c.name}" must drop ALL)`);
        for (const cap of s.capabilities?.add ?? [])
            if (cap !== 'NET_BIND_SERVICE')
                out.push(`unrestricted capabilities (container "${c.name}" adds ${cap})`);
    }
    return [...new Set(out)];
}
//# sourceMappingURL=pod-security.js.map