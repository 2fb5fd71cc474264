import dagger
from dagger import function, object_type


@object_type
class AcmeCi:
    @function
    def build(self, src: dagger.Directory, image_name: str) -> dagger.Container:
        """The image of images/<image_name>/Dockerfile."""
        return src.directory(f"images/{image_name}").docker_build()

    @function
    async def publish(
        self,
        src: dagger.Directory,
        image_name: str,
        version: str,
        commit_sha: str,
        registry: str = "registry.acme.example",
    ) -> str:
        """Build the image and push it; returns the reference it was pushed as.

        Tags are {version}-{commit_sha}, e.g. v2.4.1-0a1b2c3.
        """
        ctr = self.build(src, image_name)
        ref = f"{registry}/acme/{image_name}:{version}-{commit_sha}"
        return await ctr.publish(ref)
