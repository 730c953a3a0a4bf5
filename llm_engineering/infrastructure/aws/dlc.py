"""The AWS Deep Learning Containers registries: which account holds the images in each region."""

DLC_ACCOUNT = "763104351884"
# Regions whose DLC registry is not the default account (opt-in regions have their own).
DLC_ACCOUNTS_BY_REGION = {
    "af-south-1": "626614931356",
    "ap-east-1": "871362719292",
    "ap-northeast-3": "364406365360",
    "ap-south-2": "772153158452",
    "ap-southeast-3": "907027046896",
    "ap-southeast-4": "457447274322",
    "ca-west-1": "204538143572",
    "eu-central-2": "380420809688",
    "eu-south-1": "692866216735",
    "eu-south-2": "503227376785",
    "il-central-1": "780543022126",
    "me-central-1": "914824155844",
    "me-south-1": "217643126080",
}
DLC_DEFAULT_ACCOUNT_REGIONS = frozenset(
    {
        *("us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "sa-east-1"),
        *("eu-central-1", "eu-north-1", "eu-west-1", "eu-west-2", "eu-west-3"),
        *("ap-northeast-1", "ap-northeast-2", "ap-south-1", "ap-southeast-1", "ap-southeast-2"),
    }
)


def dlc_account(region: str) -> str | None:
    """The AWS account of the Deep Learning Containers registry in `region`; None where none is known."""
    return DLC_ACCOUNTS_BY_REGION.get(region) or (
        DLC_ACCOUNT if region in DLC_DEFAULT_ACCOUNT_REGIONS else None
    )
