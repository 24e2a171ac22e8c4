import { AwsWebIdentityProvider } from '../cloud/aws.js';
import { projectedToken, transportOf } from './context.js';
/** The region STS is signed for when the definition names none (the global endpoint's). */
const DEFAULT_STS_REGION = 'us-east-1';
/** AWS temporary keys from STS AssumeRoleWithWebIdentity with the workload's projected token. */
export const buildAwsWebIdentity = (name, def, ctx, fingerprint) => {
    const stsRegion = def.sts_region ?? DEFAULT_STS_REGION;
    return new AwsWebIdentityProvider(name, {
        roleArn: def.role_arn,
        sessionName: def.session_name ?? 'sidekey',
        chainRoleArn: def.chain_role_arn ?? null,
        stsEndpoint: def.sts_endpoint ?? (def.sts_region !== undefined ? `https://sts.${stsRegion}.amazonaws.com/` : 'https://sts.amazonaws.com/'),
        stsRegion,
        durationS: def.duration_s ?? 3600,
        refreshAt: def.refresh_at,
    }, projectedToken(def.token_file, ctx), transportOf(def.timeout_ms, ctx), ctx.runtime.cache, fingerprint);
};
//# sourceMappingURL=aws.js.map