/**
 * Teach `scanner` every static secret of the policy in force now, and again after each reload,
 * so one the agent somehow learned is caught even before sidekey has injected it. Resolves once
 * the first round is learned; a secret that cannot be read now is left to be learned when
 * sidekey first obtains it.
 */
export async function learnStaticSecrets(policy, scanner) {
    const learn = async () => {
        for (const provider of policy.current.credentials.values()) {
            if (provider.type !== 'static')
                continue;
            await provider.obtain(null).then((c) => scanner.add(c.secret), () => undefined);
        }
    };
    await learn();
    policy.onReload(() => void learn());
}
//# sourceMappingURL=learn-secrets.js.map